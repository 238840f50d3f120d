// main.js: the emulated Dynamics 365 main window at /host/.
//
//   /host/?widget=<url-encoded widget URL>[&token=…][&profile=cif1|cif2][&widgetTimeoutMs=N]
//
// The widget runs unchanged in the side panel; its postMessage requests are
// relayed through one bridge session (relay.js). Panel state: the bridge
// (the emulator's per-session state) is the one source of truth for
// getMode / getWidth / getClickToAct. The widget's set/get calls are relayed
// like any call, and a successful setMode / setWidth / setClickToAct is then
// applied to the page. When the user changes the panel, the page first sends
// the same cif.setmode / cif.setwidth on the session (so a later getMode
// answers the new value, and a capture replays it), then raises
// onmodechanged / onsizechanged ({"value": n}) through the bridge's admin
// API, so events are timed, recorded and captured like any other.
// Click-to-act: a click on a phone field raises onclicktoact through the
// bridge; while click-to-act is off the page answers it false itself and
// the widget never sees it.
// CIF 2.0: the page's bridge session has an agent workspace (docs/workspace.md).
// Its session tabs (focus / close), notification toasts (Accept / Reject,
// remaining time) and presence picker live on this page, drawn and driven by
// the dashboard's agent panel module (dashboard/workspace.js) through the
// workspace admin API for this page's own session, with ?token= as the
// bearer token. The agent acts directly on the page.

import { connect } from "../client/cifbridge.js";
import { Relay } from "./relay.js";
import { Panel } from "./panel.js";
import { Records } from "./records.js";
import { reduceOrigin, widgetLocation } from "./channel.js";
import { initWorkspace } from "../dashboard/workspace.js";

const q = new URLSearchParams(location.search);
const token = q.get("token") || "";
const widgetURL = q.get("widget") || "";
const profile = q.get("profile") || "cif1";

const $ = (id) => document.querySelector(`[data-testid=${id}]`);
const logList = $("log");
const entries = [];

/** Appends to the channel log (and the console). */
function log(level, text, detail) {
  const e = { t: new Date().toISOString(), level, text, detail };
  entries.push(e);
  if (entries.length > 500) entries.shift();
  const li = document.createElement("li");
  li.dataset.level = level;
  li.textContent = `${e.t.slice(11, 23)} ${text}`;
  if (detail !== undefined) li.title = JSON.stringify(detail);
  logList.append(li);
  while (logList.children.length > 500) logList.firstChild.remove();
  $("log-count").textContent = String(entries.length);
  (level === "error" ? console.error : level === "warn" ? console.warn : console.info)("[cifbridge host] " + text);
}

function banner(text) {
  const b = $("banner");
  b.textContent = text;
  b.hidden = !text;
}

async function adminPost(path, body) {
  const headers = { "Content-Type": "application/json", Accept: "application/json" };
  if (token) headers.Authorization = "Bearer " + token;
  const res = await fetch(path, { method: "POST", headers, body: JSON.stringify(body) });
  const data = await res.json().catch(() => null);
  if (!res.ok) throw new Error((data && data.error && data.error.message) || `${res.status} ${res.statusText}`);
  return data;
}

async function loadConfig() {
  try {
    const res = await fetch("/host/config.json", { cache: "no-store" });
    if (res.ok) return await res.json();
  } catch {
    /* an older daemon: no extra trusted origins */
  }
  return { trustedOrigins: [] };
}

// The widget URL field: changing it reopens the page with the new widget
// (a new bridge session).
const form = $("widget-form");
form.elements.widget.value = widgetURL;
form.addEventListener("submit", (ev) => {
  ev.preventDefault();
  const next = new URLSearchParams(location.search);
  next.set("widget", form.elements.widget.value.trim());
  location.search = next.toString();
});

const state = { clickToAct: true, client: null, relay: null, panel: null, records: null, entries };
window.cifHost = state;

async function main() {
  const records = new Records($("view"), {
    token,
    log,
    onNavigate: (page) => raise("onpagenavigate", page),
    onClickToAct: (data) => raise("onclicktoact", data),
  });
  state.records = records;
  for (const a of document.querySelectorAll("[data-nav]")) {
    a.addEventListener("click", (ev) => {
      ev.preventDefault();
      records.showList(a.dataset.nav);
    });
  }
  $("global-search").addEventListener("submit", (ev) => {
    ev.preventDefault();
    records.showSearch("contact", ev.target.elements.q.value.trim());
  });

  if (!widgetURL) {
    banner("No widget: paste its URL in the Widget field (or open /host/?widget=<url-encoded URL>).");
  }
  let widgetOrigin = "";
  let widgetHref = "";
  try {
    if (widgetURL) {
      const u = widgetLocation(widgetURL, location.href);
      widgetOrigin = u.origin;
      widgetHref = u.href;
    }
  } catch (err) {
    banner(err.message);
  }
  if (location.port) {
    log("warn", `this page's origin has a port (${location.origin}): msdyn_ciLibrary.js drops the port of data-crmurl and posts to ${reduceOrigin(location.href)}, so its messages never reach this page. Serve cifbridge on port 80 (or 443 with --tls-cert) for a real widget.`);
  }

  const config = await loadConfig();
  const trusted = [...new Set([widgetOrigin && reduceOrigin(widgetOrigin), ...(config.trustedOrigins || [])].filter(Boolean))];

  const ws = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/v1/widget" + (token ? "?access_token=" + encodeURIComponent(token) : "");
  const conn = $("conn");
  let client;
  try {
    client = await connect(ws, { profile, client: "cifbridge-host/" + (widgetOrigin || "none"), maxRetries: 20 });
  } catch (err) {
    conn.dataset.state = "closed";
    conn.textContent = "no bridge";
    banner("Cannot open a bridge session: " + err.message);
    return;
  }
  state.client = client;
  const showConn = () => {
    conn.dataset.state = client.connected ? "open" : "closed";
    conn.textContent = client.connected ? `session ${client.session}` : "reconnecting…";
    conn.dataset.session = client.session || "";
  };
  client.addEventListener("open", showConn);
  client.addEventListener("close", showConn);
  showConn();
  const q2 = Number(q.get("widgetTimeoutMs"));
  const widgetTimeoutMs = q2 > 0 ? q2 : client.timeoutMs;
  log("info", `bridge session ${client.session} (${client.profile}, CIF timeout ${client.timeoutMs} ms, widget timer ${widgetTimeoutMs} ms); trusted: ${trusted.join(", ") || "none"}`);

  const frame = $("widget-frame");
  const panel = new Panel($("panel"), { onUserChange: userChange });
  state.panel = panel;

  // Events wait for the widget's document: posted earlier they would reach
  // the blank frame (a target-origin mismatch) and time out.
  let loaded = false;
  frame.addEventListener("load", () => {
    loaded = !!frame.getAttribute("src");
  });
  const relay = new Relay({
    client,
    widgetWindow: () => (loaded ? frame.contentWindow : null),
    widgetOrigin,
    trusted,
    widgetTimeoutMs,
    log,
    onResult: applyResult,
    beforeEvent: (name) =>
      name.toLowerCase() === "onclicktoact" && !state.clickToAct
        ? { answer: false, why: "click-to-act is off (setClickToAct(false))" }
        : undefined,
  });
  state.relay = relay;
  relay.attach(window);

  if (widgetOrigin) {
    $("panel-title").textContent = new URL(widgetHref).host;
    frame.src = widgetHref;
  }
  await records.showList("contact");
  mountWorkspace(client);
  document.body.dataset.ready = "true";

  /** A successful bridge answer changes the page like the real host's handler would. */
  function applyResult(type, params, result) {
    switch (type) {
      case "setmode":
        panel.setMode(Number(params.value));
        break;
      case "setwidth":
        panel.setWidth(Number(params.value));
        break;
      case "getmode":
        panel.setMode(Number(result));
        break;
      case "getwidth":
        panel.setWidth(Number(result));
        break;
      case "setclicktoact":
        state.clickToAct = params.value === true || params.value === "true";
        break;
      case "getclicktoact":
        state.clickToAct = result === true;
        break;
      case "openform": {
        const opts = parseMaybe(params.entityFormOptions) || {};
        const entity = opts.entityName || opts.entityLogicalName;
        if (entity) records.showForm(entity, opts.entityId, parseMaybe(params.entityFormParameters));
        break;
      }
      case "refreshform":
        records.refresh();
        break;
      case "renderSearchPage":
        records.showSearch(params.entityName, params.searchString || "");
        break;
      case "searchandopenrecords":
        records.showResults(params.entityName, result, false);
        break;
      default:
        // A CIF 2.0 call changed the workspace: show it now, not at the next poll.
        if (WORKSPACE_CHANGES.has(type) && state.workspace) state.workspace.select();
    }
  }

  /** The user changed the panel: sync the bridge's state, then raise the event. */
  async function userChange(change) {
    const [method, event, value] = "mode" in change ? ["cif.setmode", "onmodechanged", change.mode] : ["cif.setwidth", "onsizechanged", change.width];
    try {
      await client.call(method, { value });
    } catch (err) {
      log("error", `${method} ${value} (the user's change) failed on the bridge: ${err.message}`);
    }
    await raise(event, { value });
  }
}

/** CIF 2.0 calls whose success changes what the workspace slots show. */
const WORKSPACE_CHANGES = new Set([
  "createSession", "requestFocusSession", "setSessionTitle", "createTab", "focusTab", "refreshTab", "closeTab",
  "setTabTitle", "cancelEvent", "setAgentPresence", "initializeAgentPresenceList", "setPresence", "notifyKpiBreach",
  "notifyNewActivity", "updateContext",
]);

/**
 * Shows the agent workspace of this page's bridge session: the slots of
 * index.html appear once the bridge answers a snapshot (a daemon without the
 * workspace leaves them hidden and says so in #ws-msg).
 */
function mountWorkspace(client) {
  const sessions = $("sessions");
  const toasts = $("toasts");
  const presence = $("presence");
  state.workspace = initWorkspace({
    selected: () => client.session || "",
    noSession: "no bridge session yet",
    noToasts: null,
    onSnapshot(snap) {
      sessions.hidden = !snap;
      presence.hidden = !snap;
      toasts.hidden = !snap || !snap.notifications.some((n) => n.state === "pending");
    },
  });
}

/** Raises an event through the bridge (admin API); logs the widget's answer. */
async function raise(eventType, eventData) {
  const client = state.client;
  if (!client || !client.session) return;
  if (!state.relay || !state.relay.widgetLoaded()) {
    log("debug", `${eventType} not raised: no widget loaded yet`, eventData);
    return;
  }
  try {
    const res = await adminPost(`/api/v1/sessions/${encodeURIComponent(client.session)}/events`, { eventType, eventData });
    log("info", `${eventType} answered ${JSON.stringify(res && res.result)}`, eventData);
    return res && res.result;
  } catch (err) {
    log("warn", `${eventType} failed: ${err.message}`, eventData);
  }
}
state.raise = raise;

function parseMaybe(v) {
  if (typeof v !== "string") return v && typeof v === "object" ? v : null;
  try {
    return JSON.parse(v);
  } catch {
    return null;
  }
}

main().catch((err) => {
  banner("The host page failed to start: " + err.message);
  log("error", err.stack || String(err));
});
