// recorder.js: records the real CIF postMessage channel inside Dynamics and
// exports it in cifbridge's capture format (DESIGN §8, protocol/capture.go),
// ready for `cifbridge replay`.
//
// Entry points: createRecorder(options) → Recorder; mergeCaptures(...texts);
// toPlain(value).
//
// How it sees the traffic, patching nothing
// -----------------------------------------
// CIF's widget library posts requests to window.top with
// window.top.postMessage and receives answers and events as "message" events
// on its own window. The recorder never replaces postMessage, addEventListener
// or anything else the page uses:
//
//   * main window → widget (dir "out": answers to the widget's requests and
//     events such as onclicktoact) is recorded by a capture-phase "message"
//     listener on the widget's own window. It only reads the event; it never
//     stops propagation, so CIF's own listener gets every message unchanged.
//   * widget → main window (dir "in": the widget's requests and its answers to
//     events) cannot be seen from inside a cross-origin iframe without
//     patching window.top.postMessage (which the browser forbids cross-origin
//     anyway). Three ways, in order of preference:
//       1. same origin (a test harness, or the host shim page): the recorder
//          adds the same passive capture listener on window.top and keeps the
//          messages whose source is this widget. Automatic.
//       2. record both sides: load recorder.js in the Dynamics main window too
//          (a devtools snippet: `side: "main"` records what widgets post to
//          it as dir "in"), export both and join them with mergeCaptures().
//          Timestamps come from the same machine's clock.
//       3. opt in, for widget code you control: post through
//          recorder.wrapPostMessage(window.top), a small object whose
//          postMessage records the envelope and then calls the real one.
//
// Frames hold the envelope as a plain JSON value: structured clone delivers
// messageData as an ES Map, which JSON.stringify would turn into {}; toPlain
// converts Maps (recursively) to objects first.

export const VERSION = "0.1.0";

const PROFILE_TIMEOUTS = { cif1: 10_000, cif2: 100_000 };

/**
 * Converts a structured-clone value to plain JSON data: Map → object, Set →
 * array, Date → ISO string, Error → {name, message}; functions and symbols
 * are dropped, cycles become "[Circular]".
 */
export function toPlain(value, seen = new WeakSet()) {
  if (value === null || typeof value !== "object") {
    if (typeof value === "function" || typeof value === "symbol") return undefined;
    if (typeof value === "bigint") return value.toString();
    if (typeof value === "number" && !isFinite(value)) return null;
    return value;
  }
  if (seen.has(value)) return "[Circular]";
  seen.add(value);
  try {
    if (value instanceof Date) return isNaN(value) ? null : value.toISOString();
    if (value instanceof Error) return { name: value.name, message: value.message };
    if (value instanceof Map) {
      const out = {};
      for (const [k, v] of value) {
        const p = toPlain(v, seen);
        if (p !== undefined) out[String(k)] = p;
      }
      return out;
    }
    if (value instanceof Set) return [...value].map((v) => nullIfUndef(toPlain(v, seen)));
    if (Array.isArray(value)) return value.map((v) => nullIfUndef(toPlain(v, seen)));
    if (ArrayBuffer.isView(value)) return Array.from(value);
    const out = {};
    for (const k of Object.keys(value)) {
      const p = toPlain(value[k], seen);
      if (p !== undefined) out[k] = p;
    }
    return out;
  } finally {
    seen.delete(value);
  }
}

function nullIfUndef(v) {
  return v === undefined ? null : v;
}

/** True for a CIF postMessage envelope (a request, event or answer). */
export function isEnvelope(data) {
  if (!data || typeof data !== "object") return false;
  if (typeof data.messageType === "string") return true;
  return data.messageOutcome === "success" || data.messageOutcome === "failure";
}

function randomId() {
  const c = globalThis.crypto;
  if (c && typeof c.randomUUID === "function") return "rec-" + c.randomUUID().replace(/-/g, "").slice(0, 16);
  return "rec-" + Math.random().toString(36).slice(2, 12) + Date.now().toString(36);
}

/**
 * Creates a recorder and starts it (unless options.autoStart is false).
 * @param {object} [options] see RecorderOptions in recorder.d.ts
 */
export function createRecorder(options = {}) {
  return new Recorder(options);
}

export class Recorder {
  constructor(options = {}) {
    const win = options.window || globalThis.window;
    if (!win) throw new TypeError("recorder: no window; pass options.window");
    this.window = win;
    this.profile = options.profile || "cif1";
    this.timeoutMs = options.timeoutMs || PROFILE_TIMEOUTS[this.profile] || PROFILE_TIMEOUTS.cif1;
    this.session = options.session || randomId();
    this.side = options.side || (isTop(win) ? "main" : "widget");
    this.filter = options.filter || isEnvelope;
    this.maxFrames = options.maxFrames || 100_000;
    this.now = options.now || (() => new Date());
    this.started = null;
    /** Frames not recorded because maxFrames was reached. */
    this.dropped = 0;
    this._frames = [];
    this._listeners = []; // [target, fn]
    if (options.autoStart !== false) this.start();
  }

  /** The frames recorded so far (plain objects, oldest first). */
  get frames() {
    return this._frames.slice();
  }

  /** Starts listening; idempotent. */
  start() {
    if (this._listeners.length) return this;
    if (!this.started) this.started = this.now();
    const win = this.window;
    // Messages arriving at this window: from the main window when we are the
    // widget (dir "out"), from widgets when we are the main window (dir "in").
    const ownDir = this.side === "main" ? "in" : "out";
    // Any envelope counts: CIF's host may post from window.top or a parent.
    this._listen(win, (ev) => this._onMessage(ownDir, ev.data));
    // Same-origin main window: see what this widget posts to it, passively.
    if (this.side === "widget") {
      const top = sameOriginTop(win);
      if (top) {
        this._listen(top, (ev) => {
          if (ev.source === win) this._onMessage("in", ev.data);
        });
      }
    }
    return this;
  }

  /** Stops listening; the frames are kept. */
  stop() {
    for (const [target, fn] of this._listeners.splice(0)) target.removeEventListener("message", fn, { capture: true });
    return this;
  }

  /** Forgets the recorded frames. */
  clear() {
    this._frames = [];
    this.dropped = 0;
    return this;
  }

  /**
   * Records one envelope by hand. dir "in" = widget → main window, "out" =
   * main window → widget.
   */
  record(dir, envelope, t = this.now()) {
    if (dir !== "in" && dir !== "out") throw new TypeError('recorder: dir must be "in" or "out"');
    if (this._frames.length >= this.maxFrames) {
      this.dropped++;
      return;
    }
    this._frames.push({ t: iso(t), session: this.session, peer: "widget", dir, msg: toPlain(envelope) });
  }

  /**
   * Opt-in for widget code you control: returns an object whose
   * postMessage(message, targetOrigin, transfer) records the envelope as dir
   * "in" (widget → main window) and then calls target.postMessage. Nothing on
   * target is modified.
   */
  wrapPostMessage(target) {
    const rec = this;
    return {
      postMessage(message, targetOrigin, transfer) {
        if (rec.filter(message)) rec.record("in", message);
        return target.postMessage(message, targetOrigin, transfer);
      },
      get target() {
        return target;
      },
    };
  }

  /** The capture header object. */
  header() {
    return {
      format: "cifbridge-capture",
      version: 1,
      bridge: "recorder/" + VERSION,
      profile: this.profile,
      timeoutMs: this.timeoutMs,
      started: iso(this.started || this.now()),
      session: this.session,
      source: "postmessage",
    };
  }

  /** The capture as JSONL text: the header line, then one line per frame. */
  export() {
    const lines = [JSON.stringify(this.header())];
    for (const f of this._frames) lines.push(JSON.stringify(f));
    return lines.join("\n") + "\n";
  }

  /** Saves export() as a file in the browser (default name cifbridge-<session>.jsonl). */
  download(filename) {
    const win = this.window;
    const doc = win.document;
    const name = filename || "cifbridge-" + this.session + ".jsonl";
    const blob = new win.Blob([this.export()], { type: "application/x-ndjson" });
    const url = win.URL.createObjectURL(blob);
    const a = doc.createElement("a");
    a.href = url;
    a.download = name;
    a.style.display = "none";
    doc.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => win.URL.revokeObjectURL(url), 1000);
    return name;
  }

  _listen(target, fn) {
    target.addEventListener("message", fn, { capture: true });
    this._listeners.push([target, fn]);
  }

  _onMessage(dir, data) {
    try {
      if (this.filter(data)) this.record(dir, data);
    } catch {
      // Never let recording break the page.
    }
  }
}

function iso(t) {
  return (t instanceof Date ? t : new Date(t)).toISOString();
}

function isTop(win) {
  try {
    return win.top === win || win.top === undefined;
  } catch {
    return false;
  }
}

function sameOriginTop(win) {
  try {
    const top = win.top;
    if (!top || top === win) return null;
    void top.location.href; // throws cross-origin
    return typeof top.addEventListener === "function" ? top : null;
  } catch {
    return null;
  }
}

/**
 * Joins captures of the same conversation recorded on both sides (widget and
 * main window): the first header is kept (its session names every frame,
 * "started" is the earliest), frames are sorted by time, and exact duplicates
 * are dropped.
 * @param {...string} texts JSONL captures
 * @returns {string}
 */
export function mergeCaptures(...texts) {
  let header = null;
  const frames = [];
  const seen = new Set();
  for (const text of texts) {
    const lines = String(text).split("\n").filter((l) => l.trim() !== "");
    if (lines.length === 0) continue;
    const h = JSON.parse(lines[0]);
    if (h.format !== "cifbridge-capture") throw new Error("mergeCaptures: not a cifbridge capture");
    if (!header) header = { ...h };
    else if (h.started < header.started) header.started = h.started;
    for (const line of lines.slice(1)) frames.push(JSON.parse(line));
  }
  if (!header) throw new Error("mergeCaptures: no capture given");
  const out = [];
  for (const f of frames) {
    const g = { ...f, session: header.session };
    const key = JSON.stringify(g);
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(g);
  }
  out.sort((a, b) => (a.t < b.t ? -1 : a.t > b.t ? 1 : 0));
  return [JSON.stringify(header), ...out.map((f) => JSON.stringify(f))].join("\n") + "\n";
}
