// errors.js: the constants and the error type every part of the client
// shares: CIF's fixed texts, the JSON-RPC codes of the wire contract
// (protocol/errors.go) and CifBridgeError.

/** CIF's own timeout text (protocol.TimeoutMessage). */
export const TIMEOUT_MESSAGE = "Timeout occurred as no response was received from listener window";

/** CIF's answer when a widget has no handler for an event. */
export const NO_HANDLER_MESSAGE = "No handlers found to process the request.";

/** JSON-RPC error codes of the wire contract (protocol/errors.go). */
export const ErrorCode = Object.freeze({
  ParseError: -32700,
  InvalidRequest: -32600,
  MethodNotFound: -32601,
  InvalidParams: -32602,
  Internal: -32603,
  Timeout: -32000,
  Backend: -32001,
  NoBackend: -32002,
  Overloaded: -32003,
  Unauthorized: -32004,
  RetriesExhausted: -32005,
  Upstream: -32006,
  ShuttingDown: -32007,
  /** A call CIF runs without a timeout (openForm, notifyEvent, insertNotes) reached the bridge's --notimeout-limit. */
  SafetyLimit: -32008,
  /** Client side: the socket closed while the call was in flight; its outcome is unknown. */
  ConnectionLost: "CONNECTION_LOST",
  /** Client side: the call was never sent (no connection within offlineWaitMs, queue full, or closed). */
  NotConnected: "NOT_CONNECTED",
});

/** An error of the bridge or of this client. */
export class CifBridgeError extends Error {
  /**
   * @param {number|string} code JSON-RPC code or "CONNECTION_LOST" / "NOT_CONNECTED"
   * @param {string} message
   * @param {unknown} [data] error.data as the bridge sent it
   * @param {string} [method] the JSON-RPC method of the call
   */
  constructor(code, message, data, method) {
    super(message);
    this.name = "CifBridgeError";
    this.code = code;
    this.data = data;
    this.method = method;
  }
}

export function connectionLost(method) {
  return new CifBridgeError(ErrorCode.ConnectionLost, "cifbridge connection lost", undefined, method);
}

export function notConnected(method, why) {
  return new CifBridgeError(ErrorCode.NotConnected, "cifbridge not connected: " + why, undefined, method);
}

