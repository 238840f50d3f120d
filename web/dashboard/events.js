// events.js: the "Raise an event" form. POST /api/v1/sessions/{id}/events
// sends cif.<eventType> {eventData} to the session's widget and answers with
// the widget's answer, or 504 with CIF's timeout text when it does not
// answer within the session's CIF timeout.

import { api, ApiError } from "./api.js";
import { setText, shortId, pretty, fmtMs } from "./dom.js";

const $ = (id) => document.getElementById(id);

/** Sample eventData per event, as the Dynamics host sends it. */
const SAMPLES = {
  onclicktoact: { value: "+358401234567", name: "mobilephone", format: "phone", entityLogicalName: "contact" },
  onmodechanged: { value: 1 },
  onsizechanged: { value: 400 },
  onpagenavigate: { value: "https://contoso.crm4.dynamics.com/main.aspx?pagetype=entityrecord&etn=contact" },
  onsendkbarticle: { value: { title: "Reset a voicemail PIN", link: "https://support.example.com/kb/42" } },
  onSessionCreated: { sessionId: "session-id-1", focused: true, context: {} },
  onSessionSwitched: { sessionId: "session-id-1", focused: true, context: {} },
  onBeforeSessionClosed: { sessionId: "session-id-1", focused: false, context: {} },
  onSessionClosed: { sessionId: "session-id-1", focused: false, context: {} },
};

/**
 * @param {{onSelect: (id: string) => void}} hooks
 */
export function initEvents(hooks) {
  const sel = $("ev-session");
  const type = $("ev-type");
  const data = $("ev-data");
  let selected = "";
  let known = "";

  const fillSample = () => {
    data.value = JSON.stringify(SAMPLES[type.value] ?? null, null, 2);
    data.removeAttribute("aria-invalid");
    setText($("ev-hint"), "");
  };
  fillSample();
  type.addEventListener("change", fillSample);
  sel.addEventListener("change", () => {
    selected = sel.value;
    hooks.onSelect(selected);
  });

  $("event-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    if (!selected) {
      setText($("ev-hint"), "pick a session first");
      return;
    }
    let eventData = null;
    const text = data.value.trim();
    if (text) {
      try {
        eventData = JSON.parse(text);
      } catch (err) {
        data.setAttribute("aria-invalid", "true");
        setText($("ev-hint"), "eventData is not JSON: " + err.message);
        return;
      }
    }
    data.removeAttribute("aria-invalid");
    setText($("ev-hint"), "");
    const btn = $("ev-send");
    btn.disabled = true;
    show("pending", "info", "waiting for the widget…", "", "");
    const started = performance.now();
    try {
      const res = await api(`/api/v1/sessions/${encodeURIComponent(selected)}/events`, {
        method: "POST",
        body: { eventType: type.value, eventData },
      });
      const ms = performance.now() - started;
      show("ok", "ok", "answered", fmtMs(ms), pretty(res && "result" in res ? res.result : res));
    } catch (err) {
      const ms = performance.now() - started;
      if (err instanceof ApiError && err.status === 504) {
        show("bad", "bad", "timeout", fmtMs(ms), err.message + "\n\n" + pretty(err.body));
      } else if (err instanceof ApiError) {
        show("bad", "bad", err.status ? "error " + err.status : "unreachable", fmtMs(ms), err.message + (err.body ? "\n\n" + pretty(err.body) : ""));
      } else {
        show("bad", "bad", "error", fmtMs(ms), String(err));
      }
    } finally {
      btn.disabled = false;
    }
  });

  function show(state, tone, outcome, time, body) {
    $("ev-answer").dataset.state = state;
    const b = $("ev-outcome");
    b.className = "badge " + tone;
    setText(b, outcome);
    setText($("ev-time"), time);
    setText($("ev-body"), body);
  }

  return {
    selected: () => selected,
    select(id) {
      selected = id;
      if (sel.value !== id) sel.value = id;
    },
    /** Keeps the session list current; the selection sticks while the session lives. */
    setSessions(sessions) {
      const ids = sessions.map((s) => s.id + ":" + (s.client || "") + ":" + s.connections + ":" + (s.node || "")).join(",");
      if (ids === known) return;
      known = ids;
      const opts = sessions.map((s) => {
        const o = document.createElement("option");
        o.value = s.id;
        o.textContent = s.id + (s.node ? " @ " + s.node : "") + (s.client ? " · " + s.client : "") + (s.connections === 0 ? " (disconnected)" : "");
        return o;
      });
      if (opts.length === 0) {
        const o = document.createElement("option");
        o.value = "";
        o.textContent = "no live session";
        opts.push(o);
      }
      sel.replaceChildren(...opts);
      if (!sessions.some((s) => s.id === selected)) {
        // Default to the newest connected session.
        const pick = [...sessions].filter((s) => s.connections > 0).sort((a, b) => (a.created < b.created ? 1 : -1))[0];
        selected = pick ? pick.id : "";
        if (selected) hooks.onSelect(selected);
      }
      sel.value = selected;
    },
  };
}
