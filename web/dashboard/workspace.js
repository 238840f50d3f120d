// workspace.js: the agent workspace panel (CIF 2.0, issue 14) for the
// widget session selected in "Raise an event": the workspace's sessions as
// tabs (focus, close, unread / KPI-breach / new-activity badges) with the
// focused session's own tabs, the pending notifications as toasts with
// Accept, Reject and their remaining time, and the presence picker. It plays
// the agent through the admin API (docs/workspace.md):
//
//	GET  /api/v1/sessions/{id}/workspace                              → snapshot
//	POST /api/v1/sessions/{id}/workspace/notifications/{nid} {"action":"accept"|"reject"}
//	POST /api/v1/sessions/{id}/workspace/sessions/{sid}/focus | …/close
//	POST /api/v1/sessions/{id}/workspace/presence {"presenceId"}
//
// Every POST answers the snapshot after the action, which is shown at once.
// The snapshot is polled every second; remaining times count down locally
// every 100 ms from the snapshot's remainingMs.
//
// The emulated main window (/host/) mounts the same panel on its own page
// (session tabs over the record area, toasts over it, presence in the app
// bar): it passes `el` to find the parts and `onSnapshot` to show or hide
// its slots. Parts are found by id (ws-sessions, ws-tabs, ws-toasts,
// ws-presence, ws-presence-dot, ws-msg, ws-body, ws-summary, ws-recent);
// only ws-sessions, ws-toasts and ws-presence are required.

import { api, ApiError, errorMessage, latest } from "./api.js";
import { h, setMsg, setText, fmtCountdown } from "./dom.js";

const POLL_MS = 1000;
const ABSENT_POLL_MS = 10_000;

/**
 * @param {object} hooks
 * @param {() => string} hooks.selected the widget session to show ("" for none)
 * @param {(id: string) => (HTMLElement|null)} [hooks.el] finds a part by id (default: document.getElementById)
 * @param {(snap: object|null) => void} [hooks.onSnapshot] called after each render with the snapshot shown (null: none)
 * @param {string} [hooks.noSession] the message while no session is selected
 * @param {string|null} [hooks.noToasts] the placeholder while no notification is pending (null: none)
 */
export function initWorkspace(hooks) {
  const find = hooks.el || ((id) => document.getElementById(id));
  const $ = (id) => find(id) || NOWHERE;
  const noSession = hooks.noSession ?? "pick a widget session in “Raise an event”";
  const noToasts = hooks.noToasts === undefined ? "No notification waiting for the agent" : hooks.noToasts;
  let session = "";
  let snap = null;
  let at = 0; // performance.now() when snap arrived
  let timer = null;
  const request = latest();
  let busy = false; // an action is being sent: no poll overwrites the view meanwhile

  const base = (id) => `/api/v1/sessions/${encodeURIComponent(id)}/workspace`;

  const msg = (text, tone) => setMsg($("ws-msg"), text, tone);

  async function refresh() {
    clearTimeout(timer);
    const id = hooks.selected();
    if (id !== session) {
      session = id;
      snap = null;
      msg("");
      render();
    }
    let next = POLL_MS;
    if (!id) {
      msg(noSession);
    } else if (!busy) {
      const signal = request.start();
      try {
        const got = await api(base(id), { signal });
        if (id === session && !busy) {
          if (!snap) msg(""); // a message about a failed read no longer holds
          show(got);
        }
      } catch (err) {
        if (err && err.name === "AbortError") return;
        if (id !== session) return;
        snap = null;
        render();
        if (err instanceof ApiError && err.status === 404) {
          msg("no agent workspace for this session: " + err.message);
          next = ABSENT_POLL_MS;
        } else {
          msg("workspace: " + errorMessage(err), "bad");
        }
      }
    }
    timer = setTimeout(refresh, next);
  }

  function show(s) {
    snap = s;
    at = performance.now();
    render();
  }

  // act sends one agent action and shows the snapshot it answers.
  async function act(path, body, what) {
    const id = session;
    if (!id) return;
    busy = true;
    request.abort();
    try {
      // The bridge takes a state change only as JSON ({} when there is nothing to say).
      const got = await api(base(id) + path, { method: "POST", body: body ?? {} });
      if (id === session) {
        show(got);
        msg(what, "ok");
      }
    } catch (err) {
      msg(what + " failed: " + errorMessage(err), "bad");
    } finally {
      busy = false;
    }
    refresh();
  }

  // --- rendering ------------------------------------------------------------

  function render() {
    const has = !!snap;
    $("ws-body").hidden = !has;
    if (!has) {
      if (hooks.onSnapshot) hooks.onSnapshot(null);
      return;
    }
    setText(
      $("ws-summary"),
      `${snap.sessions.filter((s) => !s.home).length} of ${snap.maxSessions ?? "?"} sessions` +
        (snap.canCreateSession === false ? " (at the limit)" : "") +
        ` · ${pending().length} pending`,
    );
    renderPresence();
    renderSessions();
    renderToasts();
    renderRecent();
    if (hooks.onSnapshot) hooks.onSnapshot(snap);
  }

  const pending = () => (snap ? snap.notifications.filter((n) => n.state === "pending") : []);

  function renderPresence() {
    const sel = $("ws-presence");
    const list = snap.presenceList || [];
    const key = list.map((p) => p.presenceId + ":" + p.presenceText).join(",");
    if (sel.dataset.k !== key) {
      sel.dataset.k = key;
      sel.replaceChildren(...list.map((p) => h("option", { value: p.presenceId }, p.presenceText || p.presenceId)));
    }
    const cur = snap.presence ? snap.presence.presenceId : "";
    if (document.activeElement !== sel) sel.value = cur;
    $("ws-presence-dot").style.background = (snap.presence && snap.presence.presenceColor) || "";
    $("ws-presence-dot").title = snap.presence ? `${snap.presence.presenceText} (${snap.presence.basePresenceStatus})` : "no presence";
  }

  function badge(cls, text, title, testid) {
    return h("span", { class: "badge " + cls, title, dataset: { testid } }, text);
  }

  // rebuild replaces el's children only when key changed, so a poll does
  // not swap a button from under the agent's pointer.
  function rebuild(el, key, build) {
    if (el.dataset.k === key) return false;
    el.dataset.k = key;
    el.replaceChildren(...build());
    return true;
  }

  function renderSessions() {
    const strip = $("ws-sessions");
    const key = JSON.stringify(snap.sessions.map((s) => [s.sessionId, s.title, s.focused, s.unread, s.focusRequested, s.newActivity, s.kpiBreach, s.home]));
    rebuild(strip, key, () =>
      snap.sessions.map((s) => {
        const badges = [];
        if (s.unread > 0 || s.focusRequested) {
          badges.push(badge("info", String(s.unread || "•"), `${s.unread} unread (the widget asked for focus)`, "ws-unread"));
        }
        if (s.newActivity > 0) badges.push(badge("warn", "+" + s.newActivity, `${s.newActivity} new activities`, "ws-activity"));
        if (s.kpiBreach) badges.push(badge("bad", "KPI", "KPI breached: " + s.kpiBreach, "ws-kpi"));
        const tab = h(
          "div",
          {
            class: "ws-session" + (s.focused ? " focused" : "") + (s.home ? " home" : ""),
            role: "tab",
            "aria-selected": String(!!s.focused),
            dataset: { testid: "ws-session", session: s.sessionId },
          },
          h(
            "button",
            {
              type: "button",
              class: "ws-title",
              title: `${s.title} (${s.sessionId}${s.templateName ? ", " + s.templateName : ""})`,
              onclick: () => !s.focused && act(`/sessions/${encodeURIComponent(s.sessionId)}/focus`, {}, "focused " + s.title),
            },
            s.title || s.sessionId,
          ),
          ...badges,
          s.home
            ? null
            : h(
                "button",
                {
                  type: "button",
                  class: "ws-close",
                  title: "close " + (s.title || s.sessionId),
                  "aria-label": "close " + (s.title || s.sessionId),
                  dataset: { testid: "ws-close" },
                  onclick: () => act(`/sessions/${encodeURIComponent(s.sessionId)}/close`, {}, "closed " + s.title),
                },
                "×",
              ),
        );
        return tab;
      }),
    );
    const focused = snap.sessions.find((s) => s.focused);
    const tabsKey = JSON.stringify(focused ? focused.tabs.map((t) => [t.tabId, t.title, t.focused, t.refreshes]) : null);
    rebuild($("ws-tabs"), tabsKey, () =>
      (focused && focused.tabs.length
        ? focused.tabs.map((t) =>
            h(
              "li",
              { class: t.focused ? "focused" : "", title: `${t.tabId} · ${t.templateName}` + (t.tags && t.tags.length ? " · " + t.tags.join(", ") : ""), dataset: { testid: "ws-tab" } },
              t.title || t.tabId,
              t.refreshes ? h("span", { class: "muted" }, ` ⟳${t.refreshes}`) : null,
            ),
          )
        : [h("li", { class: "muted" }, "no tabs")]),
    );
  }

  function renderToasts() {
    const box = $("ws-toasts");
    const list = pending();
    const byId = new Map(list.map((n) => [n.id, n]));
    const key = JSON.stringify(list.map((n) => [n.id, n.title, n.fields]));
    rebuild(box, key, () =>
      list.length === 0
        ? noToasts === null
          ? []
          : [h("div", { class: "muted empty" }, noToasts)]
        : list.map((n) => {
        const fields = Object.entries(n.fields || {}).map(([k, v]) => h("div", { class: "field" }, h("span", { class: "muted" }, k + " "), String(v)));
        const left = h("span", { class: "left num", dataset: { testid: "ws-remaining" } });
        left._n = n;
        return h(
          "div",
          { class: "toast", role: "alert", dataset: { testid: "ws-toast", id: n.id, kind: n.kind || "notification" } },
          h("div", { class: "toast-head" }, h("strong", {}, n.title || n.templateName), left),
          ...fields,
          h(
            "div",
            { class: "toast-actions" },
            h("button", { type: "button", class: "primary", dataset: { testid: "ws-accept" }, onclick: () => act(`/notifications/${encodeURIComponent(n.id)}`, { action: "accept" }, "accepted " + (n.title || n.id)) }, "Accept"),
            h("button", { type: "button", class: "danger", dataset: { testid: "ws-reject" }, onclick: () => act(`/notifications/${encodeURIComponent(n.id)}`, { action: "reject" }, "rejected " + (n.title || n.id)) }, "Reject"),
          ),
        );
      }),
    );
    // The countdowns read the newest snapshot's remainingMs.
    for (const el of box.querySelectorAll(".left")) el._n = byId.get(el.closest("[data-id]").dataset.id) || el._n;
    tick();
  }

  const STATE_TONE = { accepted: "ok", rejected: "bad", timedout: "warn", cancelled: "", withdrawn: "" };

  function renderRecent() {
    const done = snap.notifications.filter((n) => n.state !== "pending").slice(0, 5);
    rebuild($("ws-recent"), JSON.stringify(done.map((n) => [n.id, n.state])), () =>
      done.map((n) =>
        h(
          "li",
          { dataset: { testid: "ws-recent", id: n.id } },
          badge(STATE_TONE[n.state] ?? "", n.state, (n.actionName || "") + (n.responseReason ? " / " + n.responseReason : ""), "ws-state"),
          " ",
          n.title || n.templateName,
        ),
      ),
    );
  }

  // The toasts' remaining time, counted down locally between snapshots. A
  // notes dialog (no timer) waits for the agent.
  function tick() {
    const since = performance.now() - at;
    for (const el of $("ws-toasts").querySelectorAll(".left")) {
      const n = el._n;
      if (!n) continue;
      if (n.remainingMs === null || n.remainingMs === undefined) {
        setText(el, "waiting for the agent");
        continue;
      }
      const left = Math.max(0, n.remainingMs - since);
      setText(el, fmtCountdown(left) + " left");
      el.dataset.tone = left < 5000 ? "bad" : left < 10000 ? "warn" : "";
    }
  }
  setInterval(tick, 100);

  $("ws-presence").addEventListener("change", (e) => {
    const id = e.target.value;
    const p = (snap && snap.presenceList.find((x) => x.presenceId === id)) || { presenceText: id };
    act("/presence", { presenceId: id }, "presence " + p.presenceText);
  });

  refresh();
  return {
    /** Shows the session now (called when the selection changes). */
    select() {
      refresh();
    },
  };
}

// NOWHERE stands in for an optional part a page does not have: writes to it
// go nowhere, reads find nothing.
const NOWHERE = document.createElement("div");
