package protocol

import (
	"bytes"
	"encoding/json"
	"strconv"
)

// The shapes CIF gives its answers, which every backend reproduces so a
// widget sees the same thing whichever one serves it.

// MaxSearchRecords caps what one cif.search or cif.searchandopenrecords
// answers: CIF documents 5000 records as the most searchAndOpenRecords
// returns (and 5000 is Dataverse's default page).
const MaxSearchRecords = 5000

// AttributeMetadata is one attribute of a cif.getEntityMetadata answer
// (Xrm.Utility.getEntityMetadata flattened). AttributeType is Dataverse's
// (String, Lookup, Customer, Uniqueidentifier, DateTime, …); Targets lists
// the entities a lookup may point to.
type AttributeMetadata struct {
	LogicalName       string   `json:"LogicalName"`
	EntityLogicalName string   `json:"EntityLogicalName"`
	AttributeType     string   `json:"AttributeType"`
	Targets           []string `json:"Targets,omitempty"`
}

// Xrm.WebApi.online.execute operation types: XrmMetaData.OperationType.
const (
	XrmOpAction   = 0
	XrmOpFunction = 1
	XrmOpCRUD     = 2
)

// sourceFuncs are the sourceFunc texts CIF puts in its errors
// (CIFError.SourceFunc), by messageType.
var sourceFuncs = map[string]string{
	"createrecord":         "client.createRecord - Xrm.WebApi.createRecord",
	"retrieverecord":       "client.retrieveRecord - Xrm.WebApi.retrieveRecord",
	"updaterecord":         "client.updateRecord - Xrm.WebApi.updateRecord",
	"deleterecord":         "client.deleteRecord - Xrm.WebApi.deleteRecord",
	"search":               "client.retrieveMultipleRecords - Xrm.WebApi.retrieveMultipleRecords",
	"searchandopenrecords": "client.retrieveMultipleRecords - Xrm.WebApi.retrieveMultipleRecords",
	"getEntityMetadata":    "client.getEntityMetadata - Xrm.Utility.getEntityMetadata",
	"getenvironment":       "client.getEnvironment - Xrm.Utility.getGlobalContext",
	"execute":              "client.execute - Xrm.WebApi.online.execute",
}

// SourceFunc returns the sourceFunc CIF reports in the errors of a
// messageType (see MessageType), or "" for one that has none.
func SourceFunc(messageType string) string { return sourceFuncs[messageType] }

// IndexedObject encodes records as CIF's search result: an object keyed
// "0", "1", … in numeric key order (CIF builds it from a Map), each record
// written as it is.
func IndexedObject(recs []json.RawMessage) json.RawMessage {
	n := 2
	for _, r := range recs {
		n += len(r) + 8
	}
	buf := make([]byte, 0, n)
	buf = append(buf, '{')
	for i, r := range recs {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = append(buf, '"')
		buf = strconv.AppendInt(buf, int64(i), 10)
		buf = append(buf, '"', ':')
		buf = append(buf, r...)
	}
	return append(buf, '}')
}

// EntityReference names a record: {entityType, id} (Xrm's entity
// reference, the target of a bound action or function).
type EntityReference struct {
	EntityType string `json:"entityType"`
	ID         string `json:"id"`
}

// BoundTarget reads the bound parameter of an action or function,
// data[param], as an EntityReference; -32602 when it is not one.
func BoundTarget(raw json.RawMessage, param string) (EntityReference, error) {
	var t EntityReference
	if err := json.Unmarshal(raw, &t); err != nil || t.EntityType == "" {
		return t, InvalidParams("a bound operation needs \"data.%s\" as {\"entityType\":…,\"id\":…}", param)
	}
	return t, nil
}

// XrmCRUDData is the data of a CRUD xrm.execute (operationType 2): Xrm's
// CreateRequest shape {etn, payload} plus id, and entityReference
// {entityType, id} as Retrieve and Delete requests carry it; options is a
// retrieve query string and columns a $select list.
type XrmCRUDData struct {
	Etn             string           `json:"etn"`
	EntityName      string           `json:"entityName"`
	Payload         json.RawMessage  `json:"payload"`
	ID              string           `json:"id"`
	EntityReference *EntityReference `json:"entityReference"`
	Options         string           `json:"options"`
	Columns         []string         `json:"columns"`
}

// DecodeXrmCRUDData decodes the data of a CRUD execute (empty data is an
// empty request); a malformed one is -32602 saying what is expected.
func DecodeXrmCRUDData(data json.RawMessage) (XrmCRUDData, error) {
	var d XrmCRUDData
	if len(bytes.TrimSpace(data)) > 0 {
		if err := json.Unmarshal(data, &d); err != nil {
			return d, InvalidParams("\"data\" must be an object like {\"etn\":\"contact\",\"payload\":{…}}: %v", err)
		}
	}
	return d, nil
}

// Entity is the logical name the request names: etn, entityName or
// entityReference.entityType, the first given.
func (d *XrmCRUDData) Entity() string {
	switch {
	case d.Etn != "":
		return d.Etn
	case d.EntityName != "":
		return d.EntityName
	case d.EntityReference != nil:
		return d.EntityReference.EntityType
	}
	return ""
}

// RecordID is the record the request names: id, or entityReference.id.
func (d *XrmCRUDData) RecordID() string {
	if d.ID == "" && d.EntityReference != nil {
		return d.EntityReference.ID
	}
	return d.ID
}
