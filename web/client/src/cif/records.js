// records.js: Microsoft.CIFramework's record methods (createRecord,
// retrieveRecord, updateRecord, deleteRecord, searchAndOpenRecords,
// getEntityMetadata, getEnvironment). Validation texts are CIF's own.

const BLANK_ENTITY = "The EntityName parameter is blank. Provide a value to the parameter.";
const BLANK_ID = "The EntityId parameter is blank. Provide a value to the parameter.";

// CIF's createRecord/updateRecord take the data as a JSON string and parse
// it before sending; an object is accepted too.
const parseData = (data) => (typeof data === "string" ? JSON.parse(data) : data);

/** @param {{send: Function, reject: Function, shape: any, isBlank: Function}} ctx */
export function records({ send, reject, shape, isBlank }) {
  // withValue parses the data of createRecord/updateRecord (api) and sends
  // it with sendValue; rejects with blank when there is none.
  const withValue = (api, data, blank, sendValue) => {
    if (data === null || data === undefined) return reject(api, blank);
    let value;
    try {
      value = parseData(data);
    } catch (e) {
      return reject(api, e.message);
    }
    return sendValue(value);
  };
  return {
    createRecord(entityLogicalName, data) {
      if (isBlank(entityLogicalName)) return reject("createRecord", BLANK_ENTITY);
      return withValue("createRecord", data, "Provide a value to the data parameter to create record.", (value) =>
        send("createRecord", "cif.createrecord", { entityName: entityLogicalName, value }, shape.str),
      );
    },
    retrieveRecord(entityLogicalName, id, options) {
      // Stock CIF's text for retrieveRecord lacks the space after "blank.".
      if (isBlank(entityLogicalName)) {
        return reject("retrieveRecord", "The EntityName parameter is blank.Provide a value to the parameter.");
      }
      if (isBlank(id)) return reject("retrieveRecord", BLANK_ID);
      const params = { entityName: entityLogicalName, entityId: id };
      if (!isBlank(options)) params.queryParameters = options;
      return send("retrieveRecord", "cif.retrieverecord", params, shape.str);
    },
    updateRecord(entityLogicalName, id, data) {
      if (isBlank(entityLogicalName)) return reject("updateRecord", BLANK_ENTITY);
      if (isBlank(id)) return reject("updateRecord", BLANK_ID);
      return withValue("updateRecord", data, "The data parameter is blank. Provide a value to the parameter to update the record.", (value) =>
        send("updateRecord", "cif.updaterecord", { entityName: entityLogicalName, entityId: id, value }, shape.str),
      );
    },
    deleteRecord(entityLogicalName, id) {
      if (isBlank(entityLogicalName)) return reject("deleteRecord", BLANK_ENTITY);
      if (isBlank(id)) return reject("deleteRecord", BLANK_ID);
      return send("deleteRecord", "cif.deleterecord", { entityName: entityLogicalName, entityId: id }, shape.str);
    },
    searchAndOpenRecords(entityLogicalName, queryParameters, searchOnly) {
      const api = "searchAndOpenRecords";
      if (isBlank(entityLogicalName)) return reject(api, BLANK_ENTITY);
      if (isBlank(queryParameters)) {
        return reject(api, "The queryParmeters parameter is blank. Provide a value to the parameter.");
      }
      if (searchOnly === null || searchOnly === undefined) {
        return reject(api, "The searchOnly parameter is blank. Provide a value to the parameter.");
      }
      const method = searchOnly ? "cif.search" : "cif.searchandopenrecords";
      const params = { entityName: entityLogicalName, queryParameters, searchOnly: !!searchOnly };
      return send(api, method, params, shape.str);
    },
    getEnvironment() {
      return send("getEnvironment", "cif.getenvironment", {}, shape.str);
    },
    getEntityMetadata(entityName, attributes) {
      if (isBlank(entityName)) {
        return reject("getEntityMetadata", "The EntityName parameter is blank. Provide a value to the parameter");
      }
      const params = { entityName };
      if (Array.isArray(attributes)) params.attributes = attributes;
      return send("getEntityMetadata", "cif.getEntityMetadata", params, shape.str);
    },
  };
}
