package emulator

import (
	"fmt"
	"net/http"
)

// Dataverse error codes the emulator answers with (as a Dataverse org answers them; docs/emulator-parity.md).
const (
	CodeRecordNotFound  = "0x80040217" // 404: "<entity> With Id = <guid> Does Not Exist"
	CodeDuplicateKey    = "0x80040237" // 412: "A record with matching key values already exists."
	CodeDuplicateRule   = "0x80040333" // 500: duplicate-detection rule matched
	CodeSegmentNotFound = "0x8006088a" // 404: "Resource not found for the segment '<x>'."
	CodeQuerySyntax     = "0x80060888" // 400: malformed query option or body
	CodeVersionMismatch = "0x80060882" // 412: If-Match etag does not match
	CodeUnknownProperty = "0x0"        // 400: "Could not find a property named …"
)

// Messages fixed by Dataverse.
const (
	msgDuplicateKey  = "A record with matching key values already exists."
	msgDuplicateRule = "A record was not created or updated because a duplicate of the current record already exists."
	msgVersion       = "The version of the existing record doesn't match the RowVersion property provided."
)

// dvError is a Dataverse error: HTTP status, hex code and message. The CIF
// path turns it into a -32001 protocol error, the Web API face into
// {"error":{"code","message"}}.
type dvError struct {
	Status  int
	Code    string
	Message string
}

func (d *dvError) Error() string { return fmt.Sprintf("%d %s: %s", d.Status, d.Code, d.Message) }

func errSegment(segment string) *dvError {
	return &dvError{http.StatusNotFound, CodeSegmentNotFound, fmt.Sprintf("Resource not found for the segment '%s'.", segment)}
}

func errNotFound(logical, id string) *dvError {
	return &dvError{http.StatusNotFound, CodeRecordNotFound, fmt.Sprintf("%s With Id = %s Does Not Exist", logical, id)}
}

func errDuplicateKey() *dvError {
	return &dvError{http.StatusPreconditionFailed, CodeDuplicateKey, msgDuplicateKey}
}

func errDuplicateRule() *dvError {
	return &dvError{http.StatusInternalServerError, CodeDuplicateRule, msgDuplicateRule}
}

func errUnknownProperty(prop, logical string) *dvError {
	return &dvError{http.StatusBadRequest, CodeUnknownProperty,
		fmt.Sprintf("Could not find a property named '%s' on type 'Microsoft.Dynamics.CRM.%s'.", prop, logical)}
}

func errUndeclaredProperty(prop, logical string) *dvError {
	return &dvError{http.StatusBadRequest, CodeQuerySyntax,
		fmt.Sprintf("The property '%s' does not exist on type 'Microsoft.Dynamics.CRM.%s'. Make sure to only use property names that are defined by the type.", prop, logical)}
}

// errUndeclaredBind is Dataverse's answer to "<name>@odata.bind" where
// name is no navigation property (a polymorphic lookup's own name, say).
func errUndeclaredBind(prop string) *dvError {
	return &dvError{http.StatusBadRequest, CodeQuerySyntax,
		fmt.Sprintf("An undeclared property '%s' which only has property annotations in the payload but no property value was found in the payload. In OData, only declared navigation properties and declared named streams can be represented as properties without values.", prop)}
}

func errSyntax(format string, args ...any) *dvError {
	return &dvError{http.StatusBadRequest, CodeQuerySyntax, fmt.Sprintf(format, args...)}
}

// errNotImplemented refuses a Dataverse feature the emulator does not
// implement (400, so a client never takes a partial answer for a real one).
func errNotImplemented(format string, args ...any) *dvError {
	return errSyntax("The cifbridge emulator does not implement "+format+". See the emulator's parity table in the README.", args...)
}
