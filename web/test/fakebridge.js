// A tiny in-process stand-in for the cifbridge daemon: a fake WebSocket class
// (WHATWG-style: onopen/onmessage/onclose, send, close, readyState) wired to a
// JSON-RPC handler table. Test-only.

const tick = () => new Promise((r) => setTimeout(r, 0));

export class FakeBridge {
  constructor() {
    /** @type {FakeSocket[]} every socket ever opened */
    this.sockets = [];
    /** every JSON-RPC object the bridge received, in order */
    this.received = [];
    this.handlers = new Map();
    this.sessions = 0;
    this.timeoutMs = 10_000;
    this.refuse = false; // refuse new connections (the daemon is down)
    this.on("bridge.hello", (p) => ({
      session: p.session || "s-" + ++this.sessions,
      profile: p.profile || "cif1",
      timeoutMs: this.timeoutMs,
      version: "fake",
      resumed: !!p.session,
      resumeToken: "t-" + (p.session || "s-" + this.sessions),
    }));
    const bridge = this;
    this.WebSocket = class extends FakeSocket {
      constructor(url, protocols) {
        super(bridge, url, protocols);
      }
    };
  }

  /** handler(params, msg, socket) returns a result, throws {code,message,data}, or returns FakeBridge.NO_REPLY. */
  on(method, handler) {
    this.handlers.set(method, handler);
  }

  /** The socket currently open, if any. */
  get socket() {
    return this.sockets.filter((s) => s.readyState === 1).at(-1);
  }

  /** The requests received for method. */
  calls(method) {
    return this.received.filter((m) => m.method === method);
  }

  /** Sends obj to the widget on the current socket. */
  push(obj, socket = this.socket) {
    socket._deliver(JSON.stringify(obj));
  }

  /** Sends a request to the widget and resolves with its response. */
  request(method, params, id = "ev-" + Math.random().toString(36).slice(2)) {
    const socket = this.socket;
    return new Promise((resolve) => {
      socket._waiters.set(id, resolve);
      this.push({ jsonrpc: "2.0", id, method, params }, socket);
    });
  }

  /** Drops the current connection from the server side (abnormal close). */
  drop(code = 1006, socket = this.socket) {
    socket._serverClose(code, "dropped");
  }

  async _receive(socket, text) {
    const msg = JSON.parse(text);
    if (msg.method === undefined) {
      const w = socket._waiters.get(msg.id);
      if (w) {
        socket._waiters.delete(msg.id);
        w(msg);
      }
      return;
    }
    this.received.push(msg);
    const h = this.handlers.get(msg.method);
    let reply;
    if (!h) {
      reply = { error: { code: -32601, message: "method not found" } };
    } else {
      try {
        const result = await h(msg.params, msg, socket);
        if (result === FakeBridge.NO_REPLY) return;
        reply = { result: result === undefined ? null : result };
      } catch (e) {
        reply = { error: { code: e.code, message: e.message, ...(e.data !== undefined ? { data: e.data } : {}) } };
      }
    }
    if (msg.id !== undefined && socket.readyState === 1) {
      socket._deliver(JSON.stringify({ jsonrpc: "2.0", id: msg.id, ...reply }));
    }
  }
}
FakeBridge.NO_REPLY = Symbol("no reply");

class FakeSocket {
  constructor(bridge, url, protocols) {
    this.url = url;
    this.protocols = protocols;
    this.readyState = 0;
    this.onopen = this.onmessage = this.onclose = this.onerror = null;
    this._bridge = bridge;
    this._waiters = new Map();
    bridge.sockets.push(this);
    tick().then(() => {
      if (this.readyState !== 0) return;
      if (bridge.refuse) {
        this._serverClose(1006, "refused");
        return;
      }
      this.readyState = 1;
      this.onopen && this.onopen({ type: "open" });
    });
  }
  send(data) {
    if (this.readyState !== 1) throw new Error("InvalidStateError");
    tick().then(() => this._bridge._receive(this, data));
  }
  close(code = 1000, reason = "") {
    if (this.readyState >= 2) return;
    this.readyState = 2;
    tick().then(() => this._finish(code, reason));
  }
  _serverClose(code, reason) {
    if (this.readyState >= 2) return;
    this.readyState = 2;
    tick().then(() => this._finish(code, reason));
  }
  _finish(code, reason) {
    this.readyState = 3;
    this.onerror && code !== 1000 && this.onerror({ type: "error" });
    this.onclose && this.onclose({ type: "close", code, reason, wasClean: code === 1000 });
  }
  _deliver(text) {
    if (this.readyState !== 1) return;
    tick().then(() => this.readyState === 1 && this.onmessage && this.onmessage({ type: "message", data: text }));
  }
}

/** Resolves when target dispatches type (or rejects after ms). */
export function once(target, type, ms = 2000) {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error("timeout waiting for " + type)), ms);
    target.addEventListener(
      type,
      (ev) => {
        clearTimeout(t);
        resolve(ev);
      },
      { once: true },
    );
  });
}

/** Fast reconnect settings for tests. */
export const FAST = { minReconnectionDelay: 5, maxReconnectionDelay: 20, connectionTimeout: 500 };
