// cifbridge.js: the browser (and Node) client of cifbridge.
//
// A widget written for Dynamics 365 Channel Integration Framework (CIF) runs
// unchanged against cifbridge: `install({url})` puts a drop-in
// `Microsoft.CIFramework` and `Enreach.API` on `window` and dispatches
// `CIFInitDone`, like msdyn_ciLibrary.js does. Underneath, every call is one
// JSON-RPC 2.0 request over a WebSocket to the daemon's /v1/widget endpoint
// (method names and params: protocol/methods.go and protocol/params.go).
//
// Entry points: connect(url, options) → Client; install(options) → Client;
// Client#call(method, params) for the raw channel; CifBridgeError.
//
// This file only re-exports; the code lives in src/, one module per concern:
//   src/transport.js   the JSON-RPC connection: reconnect, hello/resume,
//                      pending calls and timers, events from the bridge
//   src/cif/           Microsoft.CIFramework, one module per area of methods
//                      (records, forms, panel, handlers), joined in index.js
//   src/enreach.js     Enreach.API
//   src/client.js      Client = transport + the API surfaces
//   src/install.js     connect() and install()
//   src/errors.js      CIF's texts, ErrorCode, CifBridgeError
//   src/version.js     VERSION
//
// Error shapes (see cifbridge.d.ts for the full table):
//   - Microsoft.CIFramework.* reject with CIF-shaped JSON *strings*, exactly as
//     stock CIF does (backend failure → {"value":{errorMsg,…}}, timeout →
//     {"message":"Timeout occurred as no response was received from listener
//     window"}, client-side validation → {"message","msdyn_name"}). The full
//     JSON-RPC error (Dataverse code, HTTP status, attempt id) is kept in
//     client.lastError and dispatched as the "rpcerror" event before the
//     promise rejects.
//   - Enreach.API.* and Client#call reject with CifBridgeError (an Error with
//     code, data and method).
//
// No dependencies, no build step. Works with the browser's WebSocket and, in
// Node, with any WHATWG-style implementation passed as options.WebSocket.

export { VERSION } from "./src/version.js";
export { TIMEOUT_MESSAGE, NO_HANDLER_MESSAGE, ErrorCode, CifBridgeError } from "./src/errors.js";
export { Client } from "./src/client.js";
export { cifErrorString } from "./src/cif/index.js";
export { connect, install } from "./src/install.js";
