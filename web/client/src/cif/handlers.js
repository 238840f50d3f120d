// handlers.js: Microsoft.CIFramework.addHandler / removeHandler: the
// widget's handlers for the events the bridge raises (cif.<event>), run by
// the transport when a request arrives.

/** @param {{client: any, reject: Function, isBlank: Function}} ctx */
export function handlers({ client, reject, isBlank }) {
  return {
    addHandler(eventName, handlerFunction) {
      if (isBlank(eventName)) {
        return reject("addHandler", "The parameter EventName is blank. Provide a value to the parameter.");
      }
      if (typeof handlerFunction !== "function") {
        return reject("addHandler", "Passing data parameters to addHandler is mandatory.");
      }
      client.addHandler(eventName, handlerFunction);
    },
    removeHandler(eventName, handlerFunction) {
      if (isBlank(eventName)) {
        return reject("removeHandler", "The EventName parameter is blank. Provide a value to the parameter.");
      }
      if (typeof handlerFunction !== "function") {
        return reject("removeHandler", "Passing data parameters to removeHandler is mandatory.");
      }
      client.removeHandler(eventName, handlerFunction);
    },
  };
}
