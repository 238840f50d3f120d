// transport.js: the JSON-RPC 2.0 connection to the bridge's /v1/widget
// endpoint: connect and reconnect with backoff, bridge.hello and resume,
// pending calls with their safety timers, calls made while offline,
// notifications (bridge.late, bridge.ledger) and bridge → widget requests
// (cif.<event>) answered by the registered handlers.
//
// It knows nothing of CIF's or Enreach's methods: those are API surfaces
// attached on top of it (see client.js).

import { CifBridgeError, ErrorCode, NO_HANDLER_MESSAGE, TIMEOUT_MESSAGE, connectionLost, notConnected } from "./errors.js";
import { VERSION } from "./version.js";

const PROFILE_TIMEOUTS = { cif1: 10_000, cif2: 100_000 };

/** The close code of a connection whose session another connection resumed (protocol.CloseSessionMoved). */
const CLOSE_SESSION_MOVED = 4001;

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
  // The first connection (socket open and bridge.hello answered) must
  // succeed within this, or ready() rejects and the client closes: an
  // unreachable bridge is reported in seconds, not retried forever.
  connectTimeoutMs: 30_000,
  offlineWaitMs: 10_000,
  offlineQueueMax: 100,
});

/**
 * One JSON-RPC connection to the bridge, for one widget session. It is an
 * EventTarget: "open", "close", "reconnecting", "sessionlost", "late",
 * "ledger", "notification", "handlererror" (and "rpcerror", dispatched by the
 * CIF surface).
 */
export class Connection extends EventTarget {
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
    /** Sent back as bridge.hello's resumeToken when resuming, if the bridge gave one. */
    this.resumeToken = o.resumeToken || null;
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

    this._firstReady = new Promise((resolve, reject) => {
      this._resolveFirst = resolve;
      this._rejectFirst = reject;
    });
    this._firstReady.catch(() => {});
    this._everReady = false;
    this._attempts = 0; // connection attempts before the first hello
    this._connectTimer = null;
    this._shownUrl = typeof url === "string" ? redact(url) : null; // for messages: no token
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
    clearTimeout(this._connectTimer);
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

  /** Starts connecting; the first connection is bounded by connectTimeoutMs. */
  _start() {
    const limit = this._opts.connectTimeoutMs;
    if (limit > 0 && isFinite(limit)) {
      this._connectTimer = setTimeout(() => {
        if (this._everReady || this._closed) return;
        const where = this._shownUrl ? " at " + this._shownUrl : "";
        const tries = this._attempts === 1 ? "1 attempt" : this._attempts + " attempts";
        const why = `cannot reach cifbridge${where} within ${limit} ms (${tries}; is the daemon running, and the token right?)`;
        this._giveUp(new CifBridgeError(ErrorCode.NotConnected, why, undefined, "bridge.hello"));
      }, limit);
    }
    this._open();
  }

  /** Stops for good with err: ready() rejects, "giveup" is dispatched, the client closes. */
  _giveUp(err) {
    if (this._closed) return;
    this._rejectFirst(err);
    this.dispatchEvent(new CustomEvent("giveup", { detail: { error: err } }));
    this.close(1000, "gave up");
  }

  async _open() {
    if (this._closed) return;
    let url;
    try {
      url = typeof this._url === "function" ? await this._url() : this._url;
      this._shownUrl = redact(String(url));
      if (this._opts.token) url = withToken(url, this._opts.token);
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
    if (!this._everReady) this._attempts++;
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
    if (this.session && this.resumeToken) params.resumeToken = this.resumeToken;
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
      // The bridge refused the hello. A refused resume (the session is gone,
      // or not ours: -32004 without its resumeToken) starts a new session on
      // the same socket; a refused fresh hello stops the client.
      if (params.session) {
        const old = this.session;
        this.session = null;
        this.resumeToken = null;
        this.dispatchEvent(new CustomEvent("sessionlost", { detail: { session: old, error: err } }));
        this._hello(ws);
        return;
      }
      this._giveUp(err);
      return;
    }
    if (ws !== this._ws) return;
    const resumed = !!(this.session && res && res.session === this.session);
    if (res && res.session) this.session = res.session;
    if (res && typeof res.resumeToken === "string") this.resumeToken = res.resumeToken;
    if (res && res.profile) this.profile = res.profile;
    if (res && typeof res.timeoutMs === "number") this.timeoutMs = res.timeoutMs;
    if (res && res.version) this.bridgeVersion = res.version;
    this._ready = true;
    this._everReady = true;
    clearTimeout(this._connectTimer);
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
    this.dispatchEvent(new CustomEvent("close", { detail }));
    if (detail.code === CLOSE_SESSION_MOVED) {
      // Another connection resumed this session: it lives on there. Resuming
      // it again would take it back, and the two would fight over it.
      const why = `session ${this.session} moved to another connection (close ${CLOSE_SESSION_MOVED}): this client stops`;
      this._giveUp(new CifBridgeError(ErrorCode.NotConnected, why, { closeCode: CLOSE_SESSION_MOVED }, "bridge.hello"));
      return;
    }
    if (!this._closed) this._scheduleReconnect();
  }

  _scheduleReconnect(err) {
    if (this._closed) return;
    this._retryCount++;
    const o = this._opts;
    if (this._retryCount > o.maxRetries) {
      // Before any hello was answered, a browser sees a refused upgrade (a
      // wrong token, path or Origin) only as close 1006: say what to check.
      const where = this._shownUrl ? " at " + this._shownUrl : "";
      const hint = this._everReady ? "" : ` (never reached cifbridge${where}: is the daemon running, and the token right?)`;
      const e = notConnected("bridge.hello", "gave up after " + o.maxRetries + " retries" + hint);
      if (err) e.cause = err;
      this._giveUp(e);
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

// The URL with the bridge token as ?access_token= (a browser WebSocket
// cannot send an Authorization header); an access_token already there wins.
function withToken(url, token) {
  const u = new URL(url);
  if (!u.searchParams.has("access_token")) u.searchParams.set("access_token", token);
  return u.toString();
}

// The URL without its access_token, for messages and logs.
function redact(url) {
  try {
    const u = new URL(url);
    if (u.searchParams.has("access_token")) u.searchParams.set("access_token", "redacted");
    return u.toString();
  } catch {
    return url;
  }
}
