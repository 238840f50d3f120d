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
// Error shapes (see README in cifbridge.d.ts for the full table):
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

export const VERSION = "0.1.0";

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
  /** Client side: the socket closed while the call was in flight; its outcome is unknown. */
  ConnectionLost: "CONNECTION_LOST",
  /** Client side: the call was never sent (no connection within offlineWaitMs, queue full, or closed). */
  NotConnected: "NOT_CONNECTED",
});

const PROFILE_TIMEOUTS = { cif1: 10_000, cif2: 100_000 };

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

function connectionLost(method) {
  return new CifBridgeError(ErrorCode.ConnectionLost, "cifbridge connection lost", undefined, method);
}

function notConnected(method, why) {
  return new CifBridgeError(ErrorCode.NotConnected, "cifbridge not connected: " + why, undefined, method);
}

// ---------------------------------------------------------------------------
// Client: the JSON-RPC connection, reconnect, pending calls, events.

const DEFAULTS = Object.freeze({
  profile: "cif1",
  protocols: ["cifbridge.v1"],
  timeoutGraceMs: 2000,
  // reconnecting-websocket's names and defaults; the minimum is jittered once
  // per client (1000 + rand·4000 ms) unless given.
  maxReconnectionDelay: 10_000,
  reconnectionDelayGrowFactor: 1.3,
  minUptime: 5000,
  connectionTimeout: 4000,
  maxRetries: Infinity,
  offlineWaitMs: 10_000,
  offlineQueueMax: 100,
});

/**
 * One widget session on the bridge. It is an EventTarget: "open", "close",
 * "reconnecting", "late", "ledger", "notification", "rpcerror",
 * "handlererror".
 */
export class Client extends EventTarget {
  /**
   * @param {string|(() => string|Promise<string>)} url
   * @param {object} [options] see ConnectOptions in cifbridge.d.ts
   */
  constructor(url, options) {
    super();
    const o = { ...DEFAULTS, ...(options || {}) };
    if (o.minReconnectionDelay == null) o.minReconnectionDelay = 1000 + Math.random() * 4000;
    const WS = o.WebSocket || globalThis.WebSocket;
    if (typeof WS !== "function") {
      throw new TypeError("cifbridge: no WebSocket implementation; pass options.WebSocket");
    }
    this._url = url;
    this._opts = o;
    this._WS = WS;

    // Session state, set by bridge.hello.
    this.session = o.session || null;
    this._resumeToken = null; // from bridge.hello; resuming this.session needs it
    this.profile = o.profile;
    this.timeoutMs = PROFILE_TIMEOUTS[o.profile] || PROFILE_TIMEOUTS.cif1;
    this.bridgeVersion = null;
    /** The last CifBridgeError behind a rejected Microsoft.CIFramework call. */
    this.lastError = null;

    // Connection state, owned by _open/_onClose.
    this._ws = null;
    this._ready = false; // socket open and hello answered
    this._closed = false; // close() called
    this._retryCount = 0;
    this._openedAt = 0;
    this._reconnectTimer = null;

    // Calls: in flight (sent) and waiting (not yet sent).
    this._nextId = 1;
    this._pending = new Map(); // id → {method, resolve, reject, timer}
    this._waiting = []; // {method, params, timerMs, resolve, reject, timer}

    // Event handlers for bridge → widget requests.
    this._handlers = new Map(); // eventName → [fn]
    this._window = null; // set by install(): also gets "cifbridge:*" events

    this.CIFramework = makeCIFramework(this);
    this.Enreach = { API: makeEnreachAPI(this) };

    this._firstReady = new Promise((resolve, reject) => {
      this._resolveFirst = resolve;
      this._rejectFirst = reject;
    });
    this._firstReady.catch(() => {});
  }

  /** True when the socket is open and the session is established. */
  get connected() {
    return this._ready;
  }

  /** Resolves once the first bridge.hello is answered. */
  ready() {
    return this._firstReady;
  }

  /**
   * Sends one JSON-RPC request and resolves with its result, or rejects with
   * a CifBridgeError. Never re-sent: a call in flight when the socket closes
   * rejects with CONNECTION_LOST.
   * @param {string} method
   * @param {object} [params]
   * @param {{timeoutMs?: number|null}} [opts] client safety timer; null for none
   */
  call(method, params, opts) {
    const timerMs = opts && "timeoutMs" in opts ? opts.timeoutMs : this.timeoutMs + this._opts.timeoutGraceMs;
    return new Promise((resolve, reject) => {
      const req = { method, params: params || {}, timerMs, resolve, reject, timer: null };
      if (this._closed) return reject(notConnected(method, "client closed"));
      if (this._ready) return this._send(req);
      if (this._opts.offlineWaitMs <= 0) return reject(notConnected(method, "disconnected"));
      if (this._waiting.length >= this._opts.offlineQueueMax) {
        return reject(notConnected(method, "offline queue full"));
      }
      req.timer = setTimeout(() => {
        const i = this._waiting.indexOf(req);
        if (i >= 0) this._waiting.splice(i, 1);
        reject(notConnected(method, "no connection within " + this._opts.offlineWaitMs + " ms"));
      }, this._opts.offlineWaitMs);
      this._waiting.push(req);
    });
  }

  /** Sends a JSON-RPC notification (no answer). Dropped when disconnected. */
  notify(method, params) {
    if (!this._ready) return false;
    return this._write({ jsonrpc: "2.0", method, params: params || {} });
  }

  /** Registers a handler for a bridge event (e.g. "onclicktoact"). */
  addHandler(eventName, fn) {
    let list = this._handlers.get(eventName);
    if (!list) this._handlers.set(eventName, (list = []));
    list.push(fn);
  }

  /** Removes a handler added with addHandler. */
  removeHandler(eventName, fn) {
    const list = this._handlers.get(eventName);
    if (!list) return;
    const i = list.indexOf(fn);
    if (i >= 0) list.splice(i, 1);
    if (list.length === 0) this._handlers.delete(eventName);
  }

  /** Closes for good: no reconnect; every call rejects. */
  close(code = 1000, reason = "client closed") {
    if (this._closed) return;
    this._closed = true;
    clearTimeout(this._reconnectTimer);
    this._rejectFirst(notConnected("bridge.hello", "client closed"));
    for (const req of this._waiting.splice(0)) {
      clearTimeout(req.timer);
      req.reject(notConnected(req.method, "client closed"));
    }
    const ws = this._ws;
    this._retireAll();
    if (ws) {
      try {
        ws.close(code, reason);
      } catch {
        /* already closing */
      }
    }
  }

  // --- connection ---------------------------------------------------------

  async _open() {
    if (this._closed) return;
    let url;
    try {
      url = typeof this._url === "function" ? await this._url() : this._url;
    } catch (err) {
      this._scheduleReconnect(err);
      return;
    }
    if (this._closed) return;
    let ws;
    try {
      ws = new this._WS(url, this._opts.protocols);
    } catch (err) {
      this._scheduleReconnect(err);
      return;
    }
    this._ws = ws;
    const connTimer = setTimeout(() => {
      if (ws.readyState === 0) {
        try {
          ws.close();
        } catch {
          /* ignore */
        }
        this._onClose(ws, { code: 4000, reason: "connection timeout" });
      }
    }, this._opts.connectionTimeout);
    ws.onopen = () => {
      clearTimeout(connTimer);
      this._openedAt = Date.now();
      this._hello(ws);
    };
    ws.onmessage = (ev) => this._onMessage(ws, ev.data);
    ws.onclose = (ev) => {
      clearTimeout(connTimer);
      this._onClose(ws, ev);
    };
    ws.onerror = () => {
      /* a close event follows */
    };
  }

  async _hello(ws) {
    const params = { profile: this._opts.profile };
    if (this.session) params.session = this.session;
    if (this.session && this._resumeToken) params.resumeToken = this._resumeToken;
    params.client = this._opts.client || "cifbridge.js/" + VERSION;
    if (this._opts.enreachToken) params.enreachToken = this._opts.enreachToken;
    const req = {
      method: "bridge.hello",
      params,
      timerMs: this._opts.connectionTimeout + this._opts.timeoutGraceMs,
      resolve: null,
      reject: null,
      timer: null,
    };
    let res;
    try {
      res = await new Promise((resolve, reject) => {
        req.resolve = resolve;
        req.reject = reject;
        this._send(req, ws);
      });
    } catch (err) {
      if (ws !== this._ws) return;
      if (err.code === ErrorCode.ConnectionLost) return; // _onClose reconnects
      if (err.code === ErrorCode.Timeout) {
        // No answer to the hello on an open socket: drop it and reconnect.
        try {
          ws.close(4000, "hello timeout");
        } catch {
          /* already closing */
        }
        return;
      }
      // The bridge refused the hello (a session not ours to resume, …).
      if (params.session) {
        // The session is gone: start a new one on the same socket.
        const old = this.session;
        this.session = null;
        this.dispatchEvent(new CustomEvent("sessionlost", { detail: { session: old, error: err } }));
        this._hello(ws);
        return;
      }
      this._rejectFirst(err);
      this.close(1000, "hello refused");
      return;
    }
    if (ws !== this._ws) return;
    const resumed = !!(this.session && res && res.session === this.session);
    if (res && res.session) this.session = res.session;
    if (res && res.resumeToken) this._resumeToken = res.resumeToken;
    if (res && res.profile) this.profile = res.profile;
    if (res && typeof res.timeoutMs === "number") this.timeoutMs = res.timeoutMs;
    if (res && res.version) this.bridgeVersion = res.version;
    this._ready = true;
    const detail = { session: this.session, profile: this.profile, timeoutMs: this.timeoutMs, resumed, hello: res };
    this._resolveFirst(this);
    this.dispatchEvent(new CustomEvent("open", { detail }));
    // Calls made while disconnected were never sent: send them now, in order.
    for (const req of this._waiting.splice(0)) {
      clearTimeout(req.timer);
      this._send(req);
    }
  }

  _onClose(ws, ev) {
    if (ws !== this._ws) return;
    ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
    this._ws = null;
    const wasReady = this._ready;
    this._ready = false;
    if (this._openedAt && Date.now() - this._openedAt >= this._opts.minUptime) this._retryCount = 0;
    this._openedAt = 0;
    // Never re-send: whatever was in flight has an unknown outcome.
    this._retireAll();
    const detail = { code: ev && ev.code, reason: ev && ev.reason, wasConnected: wasReady };
    // 4001: another connection resumed this session; taking it back would
    // start a tug of war, so this client stops.
    if (ev && ev.code === 4001) this._closed = true;
    this.dispatchEvent(new CustomEvent("close", { detail }));
    if (!this._closed) this._scheduleReconnect();
  }

  _scheduleReconnect(err) {
    if (this._closed) return;
    this._retryCount++;
    const o = this._opts;
    if (this._retryCount > o.maxRetries) {
      const e = notConnected("bridge.hello", "gave up after " + o.maxRetries + " retries");
      if (err) e.cause = err;
      this._rejectFirst(e);
      this.close(1000, "max retries");
      return;
    }
    const delay = Math.min(
      o.maxReconnectionDelay,
      o.minReconnectionDelay * Math.pow(o.reconnectionDelayGrowFactor, this._retryCount - 1),
    );
    this.dispatchEvent(new CustomEvent("reconnecting", { detail: { attempt: this._retryCount, delayMs: delay } }));
    clearTimeout(this._reconnectTimer);
    this._reconnectTimer = setTimeout(() => this._open(), delay);
  }

  _retireAll() {
    const pending = [...this._pending.values()];
    this._pending.clear();
    for (const p of pending) {
      clearTimeout(p.timer);
      p.reject(connectionLost(p.method));
    }
  }

  // --- sending and receiving ---------------------------------------------

  _send(req, ws = this._ws) {
    const id = this._nextId++;
    const entry = { method: req.method, resolve: req.resolve, reject: req.reject, timer: null };
    this._pending.set(id, entry);
    if (req.timerMs != null && isFinite(req.timerMs)) {
      entry.timer = setTimeout(() => {
        if (this._pending.get(id) !== entry) return;
        this._pending.delete(id); // a later answer matches nothing, as in CIF
        entry.reject(
          new CifBridgeError(
            ErrorCode.Timeout,
            TIMEOUT_MESSAGE,
            { message: TIMEOUT_MESSAGE, clientSide: true, timeoutMs: req.timerMs },
            req.method,
          ),
        );
      }, req.timerMs);
    }
    if (!this._write({ jsonrpc: "2.0", id, method: req.method, params: req.params }, ws)) {
      clearTimeout(entry.timer);
      this._pending.delete(id);
      entry.reject(connectionLost(req.method));
    }
  }

  _write(obj, ws = this._ws) {
    if (!ws || ws.readyState !== 1) return false;
    try {
      ws.send(JSON.stringify(obj));
      return true;
    } catch {
      return false;
    }
  }

  _onMessage(ws, data) {
    if (ws !== this._ws) return;
    let msg;
    try {
      msg = JSON.parse(typeof data === "string" ? data : String(data));
    } catch {
      return; // not JSON: the bridge never sends that
    }
    for (const m of Array.isArray(msg) ? msg : [msg]) {
      if (!m || typeof m !== "object") continue;
      if (typeof m.method === "string") {
        if (m.id === undefined) this._onNotification(m);
        else this._onRequest(ws, m);
      } else if (m.id !== undefined) {
        this._onResponse(m);
      }
    }
  }

  _onResponse(m) {
    const entry = this._pending.get(m.id);
    if (!entry) return; // timed out client-side, or not ours
    this._pending.delete(m.id);
    clearTimeout(entry.timer);
    if (m.error) {
      const e = m.error;
      entry.reject(new CifBridgeError(e.code, e.message || "error", e.data, entry.method));
    } else {
      entry.resolve(m.result === undefined ? null : m.result);
    }
  }

  _onNotification(m) {
    const params = m.params || {};
    let type = null;
    if (m.method === "bridge.late") type = "late";
    else if (m.method === "bridge.ledger") type = "ledger";
    if (type) {
      this.dispatchEvent(new CustomEvent(type, { detail: params }));
      const w = this._window;
      if (w && typeof w.dispatchEvent === "function") {
        w.dispatchEvent(new CustomEvent("cifbridge:" + type, { detail: params }));
      }
    }
    this.dispatchEvent(new CustomEvent("notification", { detail: { method: m.method, params } }));
  }

  async _onRequest(ws, m) {
    const reply = (body) => this._write({ jsonrpc: "2.0", id: m.id, ...body }, ws);
    if (!m.method.startsWith("cif.")) {
      reply({ error: { code: ErrorCode.MethodNotFound, message: "method not found: " + m.method } });
      return;
    }
    const eventName = m.method.slice(4);
    const handlers = this._handlersFor(eventName);
    if (handlers.length === 0) {
      reply({ result: { message: NO_HANDLER_MESSAGE } });
      return;
    }
    const raw = m.params && "eventData" in m.params ? m.params.eventData : null;
    const eventData = typeof raw === "string" ? raw : JSON.stringify(raw === undefined ? null : raw);
    // Every handler runs; the first registered one's result is the answer.
    const outcomes = await Promise.allSettled(handlers.map((fn) => Promise.resolve().then(() => fn(eventData))));
    outcomes.forEach((o, i) => {
      if (o.status === "rejected") {
        this.dispatchEvent(new CustomEvent("handlererror", { detail: { eventName, index: i, error: o.reason } }));
      }
    });
    const first = outcomes[0];
    if (first.status === "fulfilled") {
      reply({ result: first.value === undefined ? null : first.value });
    } else {
      reply({ error: handlerError(first.reason) });
    }
  }

  _handlersFor(eventName) {
    let list = this._handlers.get(eventName);
    if (!list) {
      const lower = eventName.toLowerCase();
      for (const [name, l] of this._handlers) {
        if (name.toLowerCase() === lower) {
          list = l;
          break;
        }
      }
    }
    return list ? list.slice() : [];
  }
}

// A rejected handler answers a CIF failure: -32001 with the CIF error under
// data.value, as a host would see it.
function handlerError(reason) {
  let value = reason;
  if (typeof reason === "string") {
    try {
      value = JSON.parse(reason);
    } catch {
      value = { message: reason };
    }
  } else if (reason instanceof Error) {
    value = { message: reason.message };
  }
  const msg = (value && (value.message || value.errorMsg)) || String(reason);
  return { code: ErrorCode.Backend, message: "event handler failed: " + msg, data: { errorMsg: msg, value } };
}

// ---------------------------------------------------------------------------
// Microsoft.CIFramework

function isBlank(v) {
  return v === null || v === undefined || v === "";
}

function cifReject(apiName, message) {
  return Promise.reject(JSON.stringify({ message, msdyn_name: apiName }));
}

/**
 * The CIF-shaped JSON string a Microsoft.CIFramework call rejects with, for a
 * CifBridgeError err of api apiName.
 */
export function cifErrorString(err, apiName) {
  const data = err && err.data && typeof err.data === "object" ? err.data : null;
  switch (err && err.code) {
    case ErrorCode.Timeout:
      return JSON.stringify({ message: TIMEOUT_MESSAGE });
    case ErrorCode.Backend:
      if (data && data.value !== undefined) return JSON.stringify({ value: data.value });
      return JSON.stringify({
        value: {
          errorMsg: (data && data.errorMsg) || err.message,
          sourceFunc: apiName,
          errorType: 2,
          reportTime: new Date().toUTCString(),
        },
      });
    case ErrorCode.InvalidParams:
      return JSON.stringify({ message: err.message, msdyn_name: apiName });
    default:
      // No stock-CIF counterpart (connection lost, no backend, overloaded, …):
      // CIF's {"message","msdyn_name"} shape plus the code.
      return JSON.stringify({ message: err ? err.message : "error", msdyn_name: apiName, code: err && err.code });
  }
}

function makeCIFramework(client) {
  // Sends a cif.* call; shape maps the result; errors become CIF strings.
  const send = (apiName, method, params, shape, opts) =>
    client.call(method, params, opts).then(shape, (err) => {
      client.lastError = err;
      client.dispatchEvent(new CustomEvent("rpcerror", { detail: { api: apiName, method, error: err } }));
      throw cifErrorString(err, apiName);
    });
  const str = (v) => JSON.stringify(v === undefined ? null : v);
  const plain = (v) => (v === undefined ? null : v);
  const none = () => undefined;
  // CIF's createRecord/updateRecord take the data as a JSON string and parse
  // it before sending; an object is accepted too.
  const parseData = (data) => (typeof data === "string" ? JSON.parse(data) : data);
  const BLANK_ENTITY = "The EntityName parameter is blank. Provide a value to the parameter.";
  const BLANK_ID = "The EntityId parameter is blank. Provide a value to the parameter.";

  return {
    createRecord(entityLogicalName, data) {
      if (isBlank(entityLogicalName)) return cifReject("createRecord", BLANK_ENTITY);
      if (data === null || data === undefined) {
        return cifReject("createRecord", "Provide a value to the data parameter to create record.");
      }
      let value;
      try {
        value = parseData(data);
      } catch (e) {
        return cifReject("createRecord", e.message);
      }
      return send("createRecord", "cif.createrecord", { entityName: entityLogicalName, value }, str);
    },
    retrieveRecord(entityLogicalName, id, options) {
      // Stock CIF's text for retrieveRecord lacks the space after "blank.".
      if (isBlank(entityLogicalName)) {
        return cifReject("retrieveRecord", "The EntityName parameter is blank.Provide a value to the parameter.");
      }
      if (isBlank(id)) return cifReject("retrieveRecord", BLANK_ID);
      const params = { entityName: entityLogicalName, entityId: id };
      if (!isBlank(options)) params.queryParameters = options;
      return send("retrieveRecord", "cif.retrieverecord", params, str);
    },
    updateRecord(entityLogicalName, id, data) {
      if (isBlank(entityLogicalName)) return cifReject("updateRecord", BLANK_ENTITY);
      if (isBlank(id)) return cifReject("updateRecord", BLANK_ID);
      if (data === null || data === undefined) {
        return cifReject(
          "updateRecord",
          "The data parameter is blank. Provide a value to the parameter to update the record.",
        );
      }
      let value;
      try {
        value = parseData(data);
      } catch (e) {
        return cifReject("updateRecord", e.message);
      }
      return send("updateRecord", "cif.updaterecord", { entityName: entityLogicalName, entityId: id, value }, str);
    },
    deleteRecord(entityLogicalName, id) {
      if (isBlank(entityLogicalName)) return cifReject("deleteRecord", BLANK_ENTITY);
      if (isBlank(id)) return cifReject("deleteRecord", BLANK_ID);
      return send("deleteRecord", "cif.deleterecord", { entityName: entityLogicalName, entityId: id }, str);
    },
    searchAndOpenRecords(entityLogicalName, queryParameters, searchOnly) {
      const api = "searchAndOpenRecords";
      if (isBlank(entityLogicalName)) return cifReject(api, BLANK_ENTITY);
      if (isBlank(queryParameters)) {
        return cifReject(api, "The queryParmeters parameter is blank. Provide a value to the parameter.");
      }
      if (searchOnly === null || searchOnly === undefined) {
        return cifReject(api, "The searchOnly parameter is blank. Provide a value to the parameter.");
      }
      const method = searchOnly ? "cif.search" : "cif.searchandopenrecords";
      const params = { entityName: entityLogicalName, queryParameters, searchOnly: !!searchOnly };
      return send(api, method, params, str);
    },
    getEnvironment() {
      return send("getEnvironment", "cif.getenvironment", {}, str);
    },
    getEntityMetadata(entityName, attributes) {
      if (isBlank(entityName)) {
        return cifReject("getEntityMetadata", "The EntityName parameter is blank. Provide a value to the parameter");
      }
      const params = { entityName };
      if (Array.isArray(attributes)) params.attributes = attributes;
      return send("getEntityMetadata", "cif.getEntityMetadata", params, str);
    },
    openForm(entityFormOptions, entityFormParameters) {
      if (isBlank(entityFormOptions)) {
        return cifReject("openForm", "The EntityFormOptions parameter is blank. Provide a value to the parameter.");
      }
      const params = { entityFormOptions };
      if (entityFormParameters !== undefined) params.entityFormParameters = entityFormParameters;
      // CIF posts openForm with noTimeout: no client timer either.
      return send("openForm", "cif.openform", params, str, { timeoutMs: null });
    },
    refreshForm(save) {
      const params = save === undefined ? {} : { save: !!save };
      return send("refreshForm", "cif.refreshform", params, str);
    },
    setClickToAct(value) {
      return send("setClickToAct", "cif.setclicktoact", { value: !!value }, none);
    },
    getClickToAct() {
      return send("getClickToAct", "cif.getclicktoact", {}, plain);
    },
    setMode(value) {
      if (!(value === 0 || value === 1 || value === 2)) {
        return cifReject("setMode", "The setMode paramter value must be 0, 1 or 2.");
      }
      return send("setMode", "cif.setmode", { value }, none);
    },
    getMode() {
      return send("getMode", "cif.getmode", {}, plain);
    },
    setWidth(value) {
      if (typeof value !== "number" || !(value >= 0)) {
        return cifReject(
          "setWidth",
          "The setWidth parameter value is invalid. Provide a positive number to the parameter.",
        );
      }
      return send("setWidth", "cif.setwidth", { value }, none);
    },
    getWidth() {
      return send("getWidth", "cif.getwidth", {}, plain);
    },
    renderSearchPage(entityName, searchString) {
      if (isBlank(entityName)) {
        return cifReject("renderSearchPage", "The EntityName Parameter is blank. Provide a value to the parameter");
      }
      if (searchString === null || searchString === undefined) {
        return cifReject("renderSearchPage", "The SearchString Parameter cannot be NULL");
      }
      return send("renderSearchPage", "cif.renderSearchPage", { entityName, searchString }, none);
    },
    addHandler(eventName, handlerFunction) {
      if (isBlank(eventName)) {
        return cifReject("addHandler", "The parameter EventName is blank. Provide a value to the parameter.");
      }
      if (typeof handlerFunction !== "function") {
        return cifReject("addHandler", "Passing data parameters to addHandler is mandatory.");
      }
      client.addHandler(eventName, handlerFunction);
    },
    removeHandler(eventName, handlerFunction) {
      if (isBlank(eventName)) {
        return cifReject("removeHandler", "The EventName parameter is blank. Provide a value to the parameter.");
      }
      if (typeof handlerFunction !== "function") {
        return cifReject("removeHandler", "Passing data parameters to removeHandler is mandatory.");
      }
      client.removeHandler(eventName, handlerFunction);
    },
  };
}

// ---------------------------------------------------------------------------
// Enreach.API (Voice for Dynamics)

function makeEnreachAPI(client) {
  const grace = () => client._opts.timeoutGraceMs;
  // The retry engine may run maxRetries+1 attempts, each up to the CIF
  // timeout, with delay between them: the safety timer covers all of that.
  const retryTimer = (maxRetries, delay) => (maxRetries + 1) * (client.timeoutMs + delay) + grace();
  const retries = (maxRetries, delay) => ({
    maxRetries: maxRetries === undefined || maxRetries === null ? 3 : maxRetries,
    delay: delay === undefined || delay === null ? 1000 : delay,
  });

  return {
    executeQuery(query, postData, method) {
      const params = { query };
      if (postData !== undefined && postData !== null) params.postData = postData;
      if (method) params.method = method;
      return client.call("enreach.executeQuery", params);
    },
    setANumber(aNumber) {
      return client.call("enreach.setANumber", { aNumber });
    },
    Xrm: {
      createRecord(entityLogicalName, data, maxRetries, delay, options) {
        const r = retries(maxRetries, delay);
        const params = { entityLogicalName, data, ...r };
        if (options && options.idempotent) params.idempotent = true;
        return client.call("enreach.xrm.createRecord", params, { timeoutMs: retryTimer(r.maxRetries, r.delay) });
      },
      updateRecord(entityLogicalName, id, data, maxRetries, delay) {
        const r = retries(maxRetries, delay);
        const params = { entityLogicalName, id, data, ...r };
        return client.call("enreach.xrm.updateRecord", params, { timeoutMs: retryTimer(r.maxRetries, r.delay) });
      },
      retrieveRecord(entityLogicalName, id, options, maxRetries, delay) {
        const r = retries(maxRetries, delay);
        const params = { entityLogicalName, id, ...r };
        if (!isBlank(options)) params.options = options;
        return client.call("enreach.xrm.retrieveRecord", params, { timeoutMs: retryTimer(r.maxRetries, r.delay) });
      },
      execute(data, metaData) {
        const params = { metaData };
        if (data !== undefined && data !== null) params.data = data;
        const r = retries();
        return client.call("enreach.xrm.execute", params, { timeoutMs: retryTimer(r.maxRetries, r.delay) });
      },
    },
  };
}

// ---------------------------------------------------------------------------
// Entry points

/**
 * Connects to a cifbridge /v1/widget endpoint. Resolves once bridge.hello is
 * answered (retrying the connection with backoff until then); rejects if the
 * bridge refuses the hello or maxRetries is exhausted.
 * @param {string|(() => string|Promise<string>)} url
 * @param {object} [options]
 * @returns {Promise<Client>}
 */
export function connect(url, options) {
  const client = new Client(url, options);
  client._open();
  return client.ready();
}

/**
 * Connects and installs window.Microsoft.CIFramework and window.Enreach.API,
 * then dispatches CIFInitDone on window (detail: [bridge origin]).
 * @param {object} options ConnectOptions plus url
 * @returns {Promise<Client>}
 */
export async function install(options) {
  const { url, window: win = globalThis.window, ...rest } = options || {};
  if (!url) throw new TypeError("cifbridge.install: options.url is required");
  if (!win) throw new TypeError("cifbridge.install: no window");
  const client = await connect(url, rest);
  client._window = win;
  win.Microsoft = win.Microsoft || {};
  win.Microsoft.CIFramework = client.CIFramework;
  win.Enreach = win.Enreach || {};
  win.Enreach.API = client.Enreach.API;
  win.cifbridge = client;
  let origin = "";
  try {
    const u = new URL(typeof url === "string" ? url : "", win.location && win.location.href);
    origin = u.protocol.replace("ws", "http") + "//" + u.hostname;
  } catch {
    /* url is a function, or unparsable */
  }
  // Like msdyn_ciLibrary.js: asynchronously, after the library is in place.
  setTimeout(() => win.dispatchEvent(new CustomEvent("CIFInitDone", { detail: origin ? [origin] : [] })), 0);
  return client;
}
