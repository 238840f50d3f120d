// relay.js: the main window's side of the CIF postMessage channel, relayed
// through one bridge session (a Client of cifbridge.js on /v1/widget).
//
//   widget request  → trusted? → cif.<messageType> on the bridge → answer envelope
//   bridge cif.on…  → event envelope to the widget → the widget's answer → bridge
//
// Timers. The library rejects a call by itself when no answer came within its
// timer (10 s for CIF 1.0) and never looks at a later one. The relay keeps
// the same clock per request, from the moment the request arrived: an answer
// the bridge gives at or after that deadline — its own CIF-timeout error, or
// a result the Client hands over late — is dropped and logged, never posted.
// The bridge's timeout equals the library's timer (the profile's timeout,
// or --cif-timeout), so with equal timers the widget rejects with CIF's
// timeout text by its own timer; with a host page opened with a longer
// ?widgetTimeoutMs= than the bridge's timeout, the bridge's timeout error
// reaches the widget first, as Map {message: TIMEOUT_MESSAGE}. Either way the
// late answer is recorded by the bridge (dashboard, /api/v1/sessions, capture)
// and reported to the page by the bridge.late notification, which the page
// logs as dropped.

import {
  CIF_CALLS,
  KNOWN_EVENTS,
  NO_HANDLER_MESSAGE,
  NO_TIMER,
  TIMEOUT_MESSAGE,
  UNTRUSTED_MESSAGE,
  canonicalType,
  correlationId,
  errorData,
  failureEnvelope,
  isNoHandler,
  originTrusted,
  paramsFor,
  successEnvelope,
  toPlain,
  RESPONSE_TYPE,
} from "./channel.js";

/**
 * @typedef {object} RelayOptions
 * @property {import("../client/cifbridge.js").Client} client the bridge session
 * @property {() => (Window|null)} widgetWindow the side panel's iframe window
 * @property {string} widgetOrigin the widget's exact origin (events are posted to it)
 * @property {string[]} trusted trusted domains (protocol//hostname)
 * @property {number} widgetTimeoutMs the library's timer
 * @property {(level: string, text: string, detail?: unknown) => void} log
 * @property {(messageType: string, params: object, result: unknown) => void} [onResult]
 *   called with every successful bridge result (also a dropped one: the bridge's state changed)
 * @property {(eventName: string, eventData: string) => (undefined|{answer: unknown, why: string})} [beforeEvent]
 *   a local answer (and why, for the log) for an event that must not reach the widget (click-to-act off)
 */

/** How much earlier than the widget's timer the page stops posting an answer. */
const DEADLINE_MARGIN_MS = 50;

/** How much longer than the bridge the page waits for a widget's event answer. */
const EVENT_GRACE_MS = 2000;

export class Relay {
  /** @param {RelayOptions} o */
  constructor(o) {
    this.o = o;
    /** requests from the widget the bridge has not answered: id → entry */
    this.inflight = new Map();
    /** events posted to the widget and not answered: id → {resolve, reject, timer} */
    this.events = new Map();
    this.counts = { requests: 0, answered: 0, dropped: 0, untrusted: 0, noHandler: 0, events: 0 };
    this._onMessage = (ev) => this.onMessage(ev);
  }

  /** True once the widget's document is loaded (events can be posted to it). */
  widgetLoaded() {
    return !!this.o.widgetWindow();
  }

  /** Starts listening on win (the main window) and takes the bridge's events. */
  attach(win) {
    win.addEventListener("message", this._onMessage);
    for (const name of KNOWN_EVENTS) {
      this.o.client.addHandler(name, (eventData) => this.raise(name, eventData));
    }
    this.o.client.addEventListener("late", (ev) => {
      const d = ev.detail || {};
      this.o.log("late", `late answer of ${d.method} (${d.outcome}, ${d.lateByMs} ms after the CIF timeout): recorded by the bridge, not posted to the widget`, d);
    });
  }

  onMessage(ev) {
    const m = ev.data;
    if (!m || typeof m !== "object") return;
    if (typeof m.messageOutcome === "string") {
      this.onAnswer(ev, m);
      return;
    }
    if (typeof m.messageType !== "string" || m.messageType === RESPONSE_TYPE) return;
    this.onRequest(ev, m);
  }

  // --- widget → host ------------------------------------------------------

  onRequest(ev, m) {
    const id = m.messageCorrelationId;
    const hasId = id !== undefined && id !== null && id !== "";
    if (!originTrusted(ev.origin, this.o.trusted)) {
      this.counts.untrusted++;
      if (!hasId) {
        this.o.log("warn", `ignored ${m.messageType} from untrusted ${ev.origin} (no correlation id)`);
        return;
      }
      this.o.log("warn", `refused ${m.messageType} from untrusted ${ev.origin}: not one of ${this.o.trusted.join(", ")}`);
      this.post(ev, failureEnvelope(id, { message: UNTRUSTED_MESSAGE }));
      return;
    }
    if (!hasId) {
      // Fire-and-forget messages (addGenericHandler, …): nothing to answer.
      this.o.log("debug", `no correlation id: ${m.messageType} not answered`);
      return;
    }
    const type = canonicalType(m.messageType);
    if (!type) {
      this.counts.noHandler++;
      this.o.log("info", `${m.messageType}: no handler in this host`);
      this.post(ev, { messageType: RESPONSE_TYPE, messageOutcome: "success", messageData: new Map([["message", NO_HANDLER_MESSAGE]]), messageCorrelationId: id });
      return;
    }
    this.relay(ev, m, type, id);
  }

  relay(ev, m, type, id) {
    this.counts.requests++;
    let params;
    try {
      const p = paramsFor(type, m.messageData);
      params = p.params;
      if (p.dropped.length) this.o.log("debug", `${type} ${id}: left out ${p.dropped.join(", ")} (not a parameter the bridge takes)`);
    } catch (err) {
      this.post(ev, failureEnvelope(id, { message: "cannot read messageData: " + err.message, msdyn_name: CIF_CALLS[type] }));
      return;
    }
    const noTimer = NO_TIMER.has(type);
    const started = performance.now();
    // The widget started its timer when it posted, a little before this
    // page got the message: the page's deadline is DEADLINE_MARGIN_MS
    // earlier, so it never posts to a widget whose timer already fired.
    const deadline = noTimer ? Infinity : started + this.o.widgetTimeoutMs - DEADLINE_MARGIN_MS;
    const entry = { id, type, started, deadline, timer: null };
    this.inflight.set(id, entry);
    if (!noTimer) {
      entry.timer = setTimeout(() => {
        this.o.log("warn", `${type} ${id}: the widget's ${this.o.widgetTimeoutMs} ms timer expired; it rejects with "${TIMEOUT_MESSAGE}" and any later answer is dropped`);
      }, this.o.widgetTimeoutMs - DEADLINE_MARGIN_MS);
    }
    const answer = (env, result) => {
      clearTimeout(entry.timer);
      if (this.inflight.get(id) === entry) this.inflight.delete(id);
      if (result !== undefined && this.o.onResult) {
        try {
          this.o.onResult(type, params, result.value);
        } catch (err) {
          this.o.log("error", `updating the page after ${type} failed: ${err.message}`);
        }
      }
      if (performance.now() >= deadline) {
        this.counts.dropped++;
        this.o.log("late", `${type} ${id}: answered ${Math.round(performance.now() - started)} ms after the request, past the widget's timer: dropped, not posted`, toPlain(env.messageData));
        return;
      }
      this.counts.answered++;
      this.post(ev, env);
    };
    this.o.client.call("cif." + type, params, noTimer ? { timeoutMs: null } : undefined).then(
      (result) => answer(successEnvelope(id, result, type), { value: result }),
      (err) => {
        if (isNoHandler(err)) {
          this.counts.noHandler++;
          answer({ messageType: RESPONSE_TYPE, messageOutcome: "success", messageData: new Map([["message", NO_HANDLER_MESSAGE]]), messageCorrelationId: id });
          return;
        }
        answer(failureEnvelope(id, errorData(err, CIF_CALLS[type])));
      },
    );
  }

  /**
   * Posts to the sender of ev, to its exact origin. Like CIF, never to "*":
   * a sender with an opaque origin ("null", e.g. a sandboxed frame) gets no
   * answer.
   */
  post(ev, msg) {
    const target = ev.source;
    if (!target || typeof target.postMessage !== "function") return;
    if (!ev.origin || ev.origin === "null") {
      this.o.log("warn", `not answering ${msg.messageCorrelationId}: the sender's origin is opaque ("null")`);
      return;
    }
    try {
      target.postMessage(msg, ev.origin);
    } catch (err) {
      this.o.log("error", `cannot post to ${ev.origin}: ${err.message}`);
    }
  }

  // --- host → widget (events) ---------------------------------------------

  /**
   * Raises an event to the widget and resolves with its answer (the value
   * of a success Map, or the Map as plain data); rejects with the failure
   * as a JSON string, or with CIF's timeout text when the widget does not
   * answer within the timer. Called by the Client for the bridge's cif.on…
   * requests.
   */
  raise(eventName, eventData) {
    this.counts.events++;
    const local = this.o.beforeEvent && this.o.beforeEvent(eventName, eventData);
    if (local) {
      this.o.log("info", `${eventName} answered ${JSON.stringify(local.answer)} by the host: ${local.why}`);
      return local.answer;
    }
    const win = this.o.widgetWindow();
    if (!win) return Promise.reject(JSON.stringify({ message: "no widget is loaded in the side panel" }));
    const id = correlationId();
    // The bridge times the event (it answers the raiser with CIF's timeout
    // when the widget is silent); this timer only forgets the event, a
    // grace later, so the bridge's verdict always comes first.
    const forgetMs = this.o.widgetTimeoutMs + EVENT_GRACE_MS;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.events.delete(id);
        this.o.log("warn", `${eventName} ${id}: the widget did not answer within ${forgetMs} ms`);
        reject(JSON.stringify({ message: TIMEOUT_MESSAGE }));
      }, forgetMs);
      this.events.set(id, { eventName, resolve, reject, timer });
      try {
        win.postMessage({ messageType: eventName, messageData: eventData, messageCorrelationId: id }, this.o.widgetOrigin);
      } catch (err) {
        clearTimeout(timer);
        this.events.delete(id);
        reject(JSON.stringify({ message: "cannot post the event to the widget: " + err.message }));
      }
    });
  }

  onAnswer(ev, m) {
    const id = m.messageCorrelationId;
    const e = this.events.get(id);
    if (!e) {
      this.o.log("late", `answer ${id} from ${ev.origin} matches no event in flight (late or unknown): dropped`);
      return;
    }
    if (ev.source !== this.o.widgetWindow() || !originTrusted(ev.origin, this.o.trusted)) {
      this.o.log("warn", `answer ${id} from ${ev.origin} is not from the widget: ignored`);
      return;
    }
    this.events.delete(id);
    clearTimeout(e.timer);
    const data = toPlain(m.messageData);
    if (m.messageOutcome === "success") {
      e.resolve(data && typeof data === "object" && "value" in data ? data.value : data === undefined ? null : data);
    } else {
      e.reject(typeof data === "string" ? data : JSON.stringify(data === undefined ? null : data));
    }
  }
}
