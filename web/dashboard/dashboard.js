// dashboard.js: the cifbridge dashboard at /. Live panels (totals,
// sessions, in-flight calls with their CIF countdown, late records) come from
// the Server-Sent Events of GET /api/v1/stream, one snapshot per second; the
// countdowns are interpolated locally every 100 ms from the server's
// leftMs. On a cluster node the session list adds the other nodes'
// sessions and a nodes panel shows every node (cluster.js). The ledger, the
// emulator and the event form live in their own modules.

import { api, streamURL, ApiError, hasToken, withToken } from "./api.js";
import { h, setText, syncRows, fmtInt, fmtMs, fmtCountdown, fmtClock, shortId } from "./dom.js";
import { initLedger } from "./ledger.js";
import { initEmulator } from "./emulator.js";
import { initEvents } from "./events.js";
import { initWorkspace } from "./workspace.js";
import { initCluster } from "./cluster.js";

const $ = (id) => document.getElementById(id);
const MAX_ROWS = 100;

/**
 * The latest snapshot and when it arrived (performance.now()); the late
 * records and ended late records already fed.
 */
const live = { snap: null, at: 0, lateSeen: null, endedSeen: null };

const eventsPanel = initEvents({ onSelect: selectSession });
const workspacePanel = initWorkspace({ selected: () => eventsPanel.selected() });
initLedger({ onOpenCount: (n) => setKpi("k-ledger", n, n > 0 ? "bad" : "") });
initEmulator();
const clusterView = initCluster({
  onChange: () => live.snap && renderSessionList(live.snap),
  now: () => (live.snap ? new Date(new Date(live.snap.now).getTime() + (performance.now() - live.at)) : new Date()),
});

// --- connection state ------------------------------------------------------

const banner = $("banner");
function showBanner(text) {
  banner.hidden = !text;
  banner.textContent = text || "";
}

function setLive(state, text) {
  const el = $("live");
  el.dataset.state = state;
  setText($("live-text"), text);
  document.body.classList.toggle("stale", state !== "live");
}

let es = null;
let retryTimer = null;

function connect() {
  clearTimeout(retryTimer);
  if (es) es.close();
  es = new EventSource(streamURL("/api/v1/stream"));
  es.addEventListener("snapshot", (ev) => {
    let snap;
    try {
      snap = JSON.parse(ev.data);
    } catch {
      return;
    }
    onSnapshot(snap);
  });
  es.onopen = () => showBanner("");
  es.onerror = async () => {
    if (es.readyState === EventSource.CONNECTING) {
      setLive("reconnecting", "reconnecting…");
      return;
    }
    // Closed for good (an HTTP error): find out why, then try again later.
    setLive("offline", "offline");
    try {
      await api("/api/v1/status");
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) {
        setLive("unauthorized", "unauthorized");
        showBanner(
          hasToken
            ? "The token in the page URL was refused by cifbridge."
            : "cifbridge requires a token: open this page as /?token=<token>.",
        );
        return;
      }
    }
    retryTimer = setTimeout(connect, 3000);
  };
}

// A stream that stops sending without closing (a proxy, a suspended laptop)
// shows as stale after 3 s.
setInterval(() => {
  if (live.at && performance.now() - live.at > 3000 && $("live").dataset.state === "live") {
    setLive("reconnecting", "no update for " + Math.round((performance.now() - live.at) / 1000) + " s");
  }
}, 1000);

// --- snapshots -------------------------------------------------------------

function setKpi(id, value, tone) {
  const el = $(id);
  setText(el, fmtInt(value));
  const box = el.parentElement;
  if ((box.dataset.tone || "") !== (tone || "")) box.dataset.tone = tone || "";
}

function onSnapshot(snap) {
  live.snap = snap;
  live.at = performance.now();
  setLive("live", "live");
  setText($("updated"), fmtClock(snap.now));
  setText(
    $("meta"),
    (snap.node ? `node ${snap.node} · ` : "") + `${snap.version} · backend ${snap.backend} · profile ${snap.profile}` + (snap.backend === "host" ? ` · ${snap.hosts} host(s)` : ""),
  );
  if (snap.node && !clusterView.node()) enableCluster(snap.node);
  $("draining").hidden = !snap.draining;
  const c = snap.correlation || {};
  setKpi("k-inflight", c.inflight, c.inflight > 0 ? "info" : "");
  setKpi("k-late", c.late, c.late > 0 ? "warn" : "");
  setKpi("k-timeouts", c.timeouts, c.timeouts > 0 ? "warn" : "");
  setKpi("k-lateanswers", c.lateAnswers, c.lateAnswers > 0 ? "warn" : "");
  setKpi("k-expired", c.expired, c.expired > 0 ? "bad" : "");

  const sessions = snap.sessions || [];
  const inflight = sessions.flatMap((s) => s.inflight.map((a) => ({ ...a, timeoutMs: s.timeoutMs })));
  // Calls CIF runs without a timer (openForm, notifyEvent, insertNotes:
  // noTimeout) wait for the agent: after the counting-down ones.
  inflight.sort((a, b) => !!a.noTimeout - !!b.noTimeout || a.leftMs - b.leftMs);
  const late = sessions.flatMap((s) => s.late);
  late.sort((a, b) => b.overdueMs - a.overdueMs);
  // At most MAX_ROWS rows per table: the nearest the timeout, the longest overdue.
  setText($("inflight-hint"), c.inflight > MAX_ROWS ? `showing the ${MAX_ROWS} nearest the timeout of ${fmtInt(c.inflight)}` : "time left before the CIF timeout");
  renderInflight(inflight.slice(0, MAX_ROWS));
  renderLate(late.slice(0, MAX_ROWS));
  feedEnded(snap.recentLate || []);
  renderSessionList(snap);
  tick();
}

// renderSessionList shows this node's sessions from the snapshot and, on a
// cluster node, the other nodes' sessions of the last gather after them.
function renderSessionList(snap) {
  let list = snap.sessions || [];
  let total = snap.sessionsTotal;
  const node = clusterView.node();
  if (node) {
    const remote = clusterView.remote();
    list = list.map((s) => ({ ...s, node })).concat(remote.slice(0, MAX_ROWS));
    total += remote.length;
  }
  setKpi("k-sessions", total, "");
  renderSessions(list, total);
  $("empty-state").hidden = total > 0;
  eventsPanel.setSessions(list);
}

// enableCluster adds the node column to the session list and starts the
// cluster view (the nodes panel, the other nodes' sessions).
function enableCluster(node) {
  $("col-session").after(h("col", { class: "c-node" }));
  $("th-session").after(h("th", {}, "Node"));
  $("sessions").replaceChildren(); // rows made before have no node cell
  clusterView.enable(node);
}

// attemptCells are the session, method and attempt id columns an in-flight
// attempt and a late record share.
function attemptCells(a) {
  return [
    h("td", { class: "mono", title: a.session }, shortId(a.session, 14)),
    h("td", { class: "mono", title: a.method }, a.method),
    h("td", { class: "mono muted", title: a.id }, shortId(a.id, 12)),
  ];
}

function renderInflight(list) {
  syncRows($("inflight"), list, {
    cols: 5,
    empty: "No calls in flight",
    key: (a) => a.id,
    create: (a) =>
      h(
        "tr",
        {},
        ...attemptCells(a),
        h("td", { class: "r elapsed" }),
        h("td", {}, h("div", { class: "left" }, h("div", { class: "bar" }, h("div", { class: "fill" })), h("span", { class: "txt" }))),
      ),
    update: (row, a) => {
      row._attempt = a;
      row._at = live.at;
    },
  });
}

function renderLate(list) {
  syncRows($("late"), list, {
    cols: 5,
    empty: "No late records",
    key: (a) => a.id,
    create: (a) =>
      h(
        "tr",
        {},
        ...attemptCells(a),
        h("td", {}, h("span", { class: "badge " + (a.state === "abandoned" ? "info" : "warn") }, a.state === "timedout" ? "timed out" : a.state)),
        h("td", { class: "r overdue" }),
      ),
    update: (row, a) => {
      row._attempt = a;
      row._at = live.at;
    },
  });
  // The feed: a record new in the table is a timeout (or an abandoned call).
  const now = new Date();
  if (live.lateSeen) {
    for (const a of list) {
      if (live.lateSeen.has(a.id)) continue;
      if (a.state === "abandoned") feed(now, "abandoned", "warn", a, "the widget went away before the answer");
      else feed(now, "timeout", "warn", a, "no answer within " + fmtMs(new Date(a.deadline) - new Date(a.started)));
    }
  }
  live.lateSeen = new Set(list.map((a) => a.id));
  const ol = $("late-feed");
  if (!ol.children.length) ol.append(h("li", { class: "empty" }, "Nothing yet"));
}

// feedEnded adds the late records that ended since the last snapshot (all of
// them on the first): each with the lateness the bridge measured for it
// (lateByMs, the figure bridge.late gave the widget) and its outcome.
function feedEnded(ended) {
  const fresh = ended.filter((e) => !live.endedSeen || !live.endedSeen.has(e.attemptId));
  for (const e of fresh.reverse()) {
    const a = { id: e.attemptId, session: e.session, method: e.widgetMethod ? e.widgetMethod + " → " + e.method : e.method };
    const after = fmtInt(e.lateByMs) + " ms after the CIF timeout";
    if (e.outcome === "success") feed(new Date(e.at), "late answer", "info", a, "succeeded " + after, e.outcome);
    else if (e.outcome === "failure") {
      const why = e.error ? ": " + e.error.message + (e.error.code ? " (" + e.error.code + ")" : "") : "";
      feed(new Date(e.at), "late failure", "bad", a, "failed " + after + why, e.outcome);
    } else feed(new Date(e.at), "expired", "bad", a, "no answer within the late window: outcome unknown", e.outcome);
  }
  live.endedSeen = new Set(ended.map((e) => e.attemptId));
}

function feed(t, what, tone, a, detail, outcome) {
  const ol = $("late-feed");
  const empty = ol.querySelector(".empty");
  if (empty) empty.remove();
  ol.prepend(
    h(
      "li",
      { dataset: { testid: "feed-item", kind: what.replace(/ /g, "-"), attempt: a.id, outcome: outcome || "" } },
      h("time", {}, fmtClock(t)),
      h("span", { class: "badge " + tone }, what),
      h("span", { class: "mono", title: a.session }, a.method),
      h("span", { class: "mono", title: a.id }, shortId(a.session, 12)),
      h("span", { class: "muted detail", title: detail }, detail),
    ),
  );
  while (ol.children.length > 50) ol.lastChild.remove();
}

function renderSessions(list, total) {
  const missing = clusterView.missing();
  setText(
    $("sessions-hint"),
    (list.length < total ? `showing ${list.length} of ${fmtInt(total)}, busiest first` : "click a row to raise an event to it") +
      (missing.length ? ` · not listed: the sessions of ${missing.join(", ")} (not answering)` : ""),
  );
  const clustered = !!clusterView.node();
  syncRows($("sessions"), list, {
    cols: clustered ? 8 : 7,
    empty: "No sessions. Widgets connect to /v1/widget.",
    key: (s) => s.id,
    create: (s) =>
      h(
        "tr",
        { onclick: () => selectSession(s.id) },
        h("td", { class: "mono", title: s.id }, s.id),
        clustered ? h("td", { class: "mono node" }) : null,
        h("td", { class: "client" }),
        h("td", { class: "profile" }),
        h("td", { class: "r conns" }),
        h("td", { class: "r nin" }),
        h("td", { class: "r nlate" }),
        h("td", { class: "r age" }),
      ),
    update: (row, s) => {
      const td = (cls) => row.querySelector("." + cls);
      if (clustered) {
        setText(td("node"), s.node || "–");
        td("node").title = s.node === clusterView.node() ? "this node" : "node " + (s.node || "?");
      }
      setText(td("client"), s.client || "–");
      td("client").title = s.client || "";
      setText(td("profile"), s.profile + " · " + fmtMs(s.timeoutMs));
      setText(td("conns"), s.connections);
      td("conns").classList.toggle("zero", s.connections === 0);
      td("conns").title = s.connections === 0 ? "disconnected: resumable until the resume window ends" : "";
      const nin = s.inflightCount ?? s.inflight.length;
      const nlate = s.lateCount ?? s.late.length;
      setText(td("nin"), fmtInt(nin));
      td("nin").classList.toggle("zero", nin === 0);
      setText(td("nlate"), fmtInt(nlate));
      td("nlate").classList.toggle("zero", nlate === 0);
      setText(td("age"), fmtMs(new Date(live.snap.now) - new Date(s.created)));
      row.classList.toggle("selected", s.id === eventsPanel.selected());
    },
  });
}

function selectSession(id) {
  eventsPanel.select(id);
  workspacePanel.select();
  for (const row of $("sessions").querySelectorAll("tr[data-key]")) row.classList.toggle("selected", row.dataset.key === id);
}

// --- empty state -----------------------------------------------------------

// The links carry the page's token; the host page is linked only when this
// daemon serves it.
function initEmptyState() {
  $("link-softphone").href = withToken("/examples/softphone.html");
  $("link-host").href = withToken("/host/");
  $("widget-url").textContent = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/v1/widget";
  fetch("/host/", { method: "HEAD", cache: "no-store" })
    .then((res) => {
      $("item-host").hidden = !res.ok;
    })
    .catch(() => {});
}
initEmptyState();

// --- countdowns, every 100 ms -----------------------------------------------

function tick() {
  const now = performance.now();
  for (const row of $("inflight").querySelectorAll("tr[data-key]")) {
    const a = row._attempt;
    if (!a) continue;
    const since = now - row._at;
    setText(row.querySelector(".elapsed"), fmtMs(a.elapsedMs + since));
    const box = row.querySelector(".left");
    if (a.noTimeout) {
      // No CIF timeout: no countdown (its deadline is only the safety limit).
      if (box.dataset.tone !== "agent") box.dataset.tone = "agent";
      setText(box.querySelector(".txt"), "waiting for the agent");
      box.title = "no CIF timeout; the safety limit ends it at " + fmtClock(a.deadline);
      continue;
    }
    const total = Math.max(1, new Date(a.deadline) - new Date(a.started));
    const left = Math.max(0, a.leftMs - since);
    const frac = left / total;
    const tone = frac > 0.5 ? "" : frac > 0.2 ? "warn" : "bad";
    if ((box.dataset.tone || "") !== tone) box.dataset.tone = tone;
    box.querySelector(".fill").style.width = (frac * 100).toFixed(1) + "%";
    setText(box.querySelector(".txt"), fmtCountdown(left));
  }
  for (const row of $("late").querySelectorAll("tr[data-key]")) {
    const a = row._attempt;
    if (a) setText(row.querySelector(".overdue"), fmtMs(a.overdueMs + (now - row._at)));
  }
}
setInterval(tick, 100);

connect();
