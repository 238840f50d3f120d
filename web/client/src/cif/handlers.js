// handlers.js: Microsoft.CIFramework.addHandler / removeHandler: the
// widget's handlers for the events the bridge raises (cif.<event>), run by
// the transport when a request arrives.

/** @param {{client: any, reject: Function, isBlank: Function}} ctx */
export function handlers({ client, reject, isBlank }) {
  // blank is CIF's text for a blank event name (worded differently by the two).
  const method = (api, blank) => (eventName, handlerFunction) => {
    if (isBlank(eventName)) return reject(api, blank);
    if (typeof handlerFunction !== "function") {
      return reject(api, `Passing data parameters to ${api} is mandatory.`);
    }
    client[api](eventName, handlerFunction);
  };
  return {
    addHandler: method("addHandler", "The parameter EventName is blank. Provide a value to the parameter."),
    removeHandler: method("removeHandler", "The EventName parameter is blank. Provide a value to the parameter."),
  };
}
