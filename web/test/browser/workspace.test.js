// The dashboard's agent workspace panel (CIF 2.0) in headless Chromium. The
// dashboard and a widget session come from the real daemon; the workspace
// admin API (GET /api/v1/sessions/{id}/workspace and its POST actions, see
// docs/workspace.md) is a small stateful fake behind Playwright's request
// routing, so the panel is tested whether or not this daemon has the
// workspace yet. Without the fake, the panel shows what the daemon says
// (a 404 message, or the real snapshot); with the CIF 2.0 sample and the
// real workspace in the daemon, the agent is played end to end from the
// panel (skipped while the daemon has neither).

import { describe, it, before } from "node:test";
import assert from "node:assert/strict";

import path from "node:path";

import { skipReason, startDaemon, daemonAndBrowser, newPage, openConnected, adminJSON, waitFor, sleep, artifact, repoRoot } from "./harness.js";

const PRESENCES = [
  { presenceId: "available", presenceText: "Available", presenceColor: "#00FF00", basePresenceStatus: "Available" },
  { presenceId: "busy", presenceText: "Busy", presenceColor: "#FF0000", basePresenceStatus: "Busy" },
  { presenceId: "away", presenceText: "Away", presenceColor: "#FFFF00", basePresenceStatus: "Away" },
];

const tab = (tabId, title, focused, extra = {}) => ({ tabId, title, templateName: "contact_tab", tags: [], focused, canClose: true, refreshes: 0, appContext: {}, ...extra });

/** A fake of the workspace admin API with the snapshot shape of docs/workspace.md. */
function fakeWorkspace(widgetSession) {
  const now = Date.now();
  const st = {
    sessions: [
      { sessionId: "session-id-0", title: "Home", templateName: "home", home: true, focused: false, unread: 0, focusRequested: false, newActivity: 0, kpiBreach: null, tabs: [tab("tab-id-0", "Dashboard", true, { canClose: false })] },
      { sessionId: "session-id-1", title: "Call from Ada", templateName: "call_session", focused: true, unread: 0, focusRequested: false, newActivity: 2, kpiBreach: "wait time", tabs: [tab("tab-id-2", "Search", false, { canClose: false }), tab("tab-id-3", "Ada", true, { refreshes: 1 })] },
      { sessionId: "session-id-2", title: "Call from Alan", templateName: "call_session", focused: false, unread: 3, focusRequested: true, newActivity: 0, kpiBreach: null, tabs: [tab("tab-id-4", "Alan", true)] },
    ],
    notifications: [
      { id: "notification-4", kind: "notification", templateName: "incoming_call", title: "Incoming call from Bob", fields: { Number: "+358409876543", Queue: "Support" }, state: "pending", expiresAt: now + 30_000 },
      { id: "notification-5", kind: "insertNotes", templateName: "insertNotes", title: "Add a note to phonecall", fields: { Record: "phonecall 9f" }, state: "pending", expiresAt: null },
      { id: "notification-9", kind: "notification", templateName: "incoming_call", title: "Incoming call from Eve", fields: {}, state: "pending", expiresAt: now + 60_000 },
      { id: "notification-2", kind: "notification", templateName: "incoming_call", title: "Incoming call from Ada", fields: {}, state: "accepted", expiresAt: null, actionName: "Accept", responseReason: "Accept" },
    ],
    presence: PRESENCES[0],
  };
  const requests = [];
  const snapshot = () => ({
    sessions: st.sessions,
    notifications: [
      ...st.notifications.filter((n) => n.state === "pending"),
      ...st.notifications.filter((n) => n.state !== "pending").reverse(),
    ].map(({ expiresAt, ...n }) => ({
      ...n,
      expiresAt: expiresAt && new Date(expiresAt).toISOString(),
      remainingMs: n.state === "pending" && expiresAt ? Math.max(0, expiresAt - Date.now()) : null,
    })),
    presence: st.presence,
    presenceList: PRESENCES,
    maxSessions: 10,
    canCreateSession: true,
  });
  const fail = (status, message) => ({ status, body: { error: { code: -32602, message } } });

  function handle(method, path, body) {
    const m = path.match(/^\/api\/v1\/sessions\/([^/]+)\/workspace(\/.*)?$/);
    if (!m || decodeURIComponent(m[1]) !== widgetSession) return fail(404, "unknown session");
    const rest = m[2] || "";
    if (method === "GET" && rest === "") return { status: 200, body: snapshot() };
    if (method !== "POST") return fail(405, "method not allowed");
    let x;
    if ((x = rest.match(/^\/notifications\/([^/]+)$/))) {
      const n = st.notifications.find((n) => n.id === x[1]);
      if (!n) return fail(404, "no notification " + x[1]);
      if (!body || !["accept", "reject"].includes(body.action)) return fail(400, 'body must be {"action":"accept"|"reject"}');
      if (n.id === "notification-9") {
        n.state = "timedout"; // it timed out just before the agent's click
        return fail(409, "notification-9 is no longer pending (timedout)");
      }
      if (n.state !== "pending") return fail(409, n.id + " is no longer pending (" + n.state + ")");
      n.state = body.action === "accept" ? "accepted" : "rejected";
      [n.actionName, n.responseReason] = body.action === "accept" ? ["Accept", "Accept"] : ["Reject", "DeclinedByAgent"];
      return { status: 200, body: snapshot() };
    }
    if ((x = rest.match(/^\/sessions\/([^/]+)\/(focus|close)$/))) {
      const s = st.sessions.find((s) => s.sessionId === x[1]);
      if (!s) return fail(404, "no session " + x[1]);
      if (x[2] === "focus") {
        for (const o of st.sessions) o.focused = o === s;
        Object.assign(s, { unread: 0, focusRequested: false, newActivity: 0 });
      } else {
        if (s.home) return fail(409, "the home session cannot be closed");
        st.sessions = st.sessions.filter((o) => o !== s);
        if (s.focused) st.sessions[0].focused = true;
      }
      return { status: 200, body: snapshot() };
    }
    if (rest === "/presence") {
      const p = PRESENCES.find((p) => p.presenceId === (body && body.presenceId));
      if (!p) return fail(404, "no presence " + (body && body.presenceId));
      st.presence = p;
      return { status: 200, body: snapshot() };
    }
    return fail(404, "not found");
  }

  return {
    requests,
    st,
    async route(route) {
      const req = route.request();
      const url = new URL(req.url());
      let body = null;
      try {
        body = req.postData() ? JSON.parse(req.postData()) : null;
      } catch {
        body = "not json";
      }
      requests.push({ method: req.method(), path: url.pathname, body, auth: req.headers().authorization || "" });
      const res = handle(req.method(), url.pathname, body);
      await route.fulfill({ status: res.status, contentType: "application/json", body: JSON.stringify(res.body) });
    },
  };
}

describe("agent workspace panel in Chromium", { skip: skipReason || false, timeout: 180_000 }, () => {
  const env = daemonAndBrowser();
  let widget, session;

  before(async () => {
    widget = await openConnected(env.browser, env.daemon.base + "/examples/softphone.html");
    session = await widget.evaluate(() => window.cifbridge.session);
  }, { timeout: 120_000 });

  it("without the fake: says what the daemon answers for the selected session", { timeout: 20_000 }, async () => {
    const dash = await newPage(env.browser, { viewport: { width: 1440, height: 1000 } });
    try {
      await dash.goto(env.daemon.base + "/");
      const real = await adminJSON(env.daemon.base, "GET", `/api/v1/sessions/${session}/workspace`);
      if (real.status === 404) {
        await dash.getByTestId("ws-msg").filter({ hasText: "no agent workspace for this session" }).waitFor();
        assert.equal(await dash.locator("#ws-body").isHidden(), true);
      } else {
        assert.equal(real.status, 200, JSON.stringify(real.body));
        for (const s of real.body.sessions) await dash.locator(`[data-testid=ws-session][data-session="${s.sessionId}"]`).waitFor();
      }
      assert.deepEqual(dash.errors.map(String), []);
    } finally {
      await dash.close();
    }
  });

  it("shows session tabs, badges, toasts with their remaining time and the presence; plays the agent", { timeout: 60_000 }, async () => {
    const fake = fakeWorkspace(session);
    const dash = await newPage(env.browser, { viewport: { width: 1440, height: 1000 } });
    try {
      await dash.route(/\/api\/v1\/sessions\/[^/]+\/workspace(\/.*)?$/, (r) => fake.route(r));
      await dash.goto(env.daemon.base + "/");
      const ws = dash.getByTestId("workspace");
      const sessionTab = (id) => ws.locator(`[data-testid=ws-session][data-session="${id}"]`);
      await sessionTab("session-id-1").waitFor();
      assert.equal(fake.requests[0].path, `/api/v1/sessions/${session}/workspace`, "the selected widget session's workspace");

      // Session tabs: home first, the focused one marked, with its badges.
      assert.deepEqual(await ws.locator("[data-testid=ws-session] .ws-title").allInnerTexts(), ["Home", "Call from Ada", "Call from Alan"]);
      assert.equal(await sessionTab("session-id-1").getAttribute("aria-selected"), "true");
      assert.equal(await sessionTab("session-id-1").getByTestId("ws-kpi").innerText(), "KPI");
      assert.equal(await sessionTab("session-id-1").getByTestId("ws-activity").innerText(), "+2");
      assert.equal(await sessionTab("session-id-2").getByTestId("ws-unread").innerText(), "3");
      assert.equal(await sessionTab("session-id-0").getByTestId("ws-close").count(), 0, "home cannot be closed");
      // The focused session's tabs.
      assert.deepEqual(await ws.getByTestId("ws-tab").allInnerTexts(), ["Search", "Ada ⟳1"]);

      // Toasts: the pending ones, with their remaining time counting down.
      const toast = (id) => ws.locator(`[data-testid=ws-toast][data-id="${id}"]`);
      await toast("notification-4").waitFor();
      assert.equal(await ws.getByTestId("ws-toast").count(), 3);
      assert.match(await toast("notification-4").innerText(), /Incoming call from Bob[\s\S]*Number \+358409876543/);
      const left1 = await toast("notification-4").getByTestId("ws-remaining").innerText();
      assert.match(left1, /^(2\d|30)\.\d s left$/);
      await sleep(700);
      const left2 = await toast("notification-4").getByTestId("ws-remaining").innerText();
      assert.ok(parseFloat(left2) < parseFloat(left1), `${left2} after ${left1}`);
      // A notes dialog has no timer: it waits for the agent.
      assert.equal(await toast("notification-5").getByTestId("ws-remaining").innerText(), "waiting for the agent");
      // Presence.
      assert.equal(await ws.getByTestId("ws-presence").inputValue(), "available");
      await dash.screenshot({ path: artifact("dashboard-workspace.png"), fullPage: true });

      const posts = () => fake.requests.filter((r) => r.method === "POST");

      // Accept the call.
      await toast("notification-4").getByTestId("ws-accept").click();
      await toast("notification-4").waitFor({ state: "detached" });
      assert.deepEqual(posts().at(-1), { method: "POST", path: `/api/v1/sessions/${session}/workspace/notifications/notification-4`, body: { action: "accept" }, auth: "" });
      await ws.locator('[data-testid=ws-recent][data-id="notification-4"]').filter({ hasText: "accepted" }).waitFor();

      // Reject the notes dialog.
      await toast("notification-5").getByTestId("ws-reject").click();
      await toast("notification-5").waitFor({ state: "detached" });
      assert.deepEqual(posts().at(-1).body, { action: "reject" });
      await ws.locator('[data-testid=ws-recent][data-id="notification-5"]').filter({ hasText: "rejected" }).waitFor();

      // A notification that timed out under the agent's click: the bridge's 409 is shown, the toast goes.
      await toast("notification-9").getByTestId("ws-accept").click();
      await ws.getByTestId("ws-msg").filter({ hasText: "failed: notification-9 is no longer pending (timedout)" }).waitFor();
      await toast("notification-9").waitFor({ state: "detached" });
      await ws.locator('[data-testid=ws-recent][data-id="notification-9"]').filter({ hasText: "timedout" }).waitFor();
      await ws.getByTestId("ws-toasts").filter({ hasText: "No notification waiting for the agent" }).waitFor();

      // Focus the session with unread messages: its badge clears.
      await sessionTab("session-id-2").locator(".ws-title").click();
      await waitFor(async () => (await sessionTab("session-id-2").getAttribute("aria-selected")) === "true", "session 2 focused");
      assert.equal(posts().at(-1).path, `/api/v1/sessions/${session}/workspace/sessions/session-id-2/focus`);
      assert.deepEqual(posts().at(-1).body, {}, "focus sends {}: the bridge takes a state change only as JSON");
      assert.equal(await sessionTab("session-id-2").getByTestId("ws-unread").count(), 0);
      assert.deepEqual(await ws.getByTestId("ws-tab").allInnerTexts(), ["Alan"]);

      // Close Ada's session.
      await sessionTab("session-id-1").getByTestId("ws-close").click();
      await sessionTab("session-id-1").waitFor({ state: "detached" });
      assert.equal(posts().at(-1).path, `/api/v1/sessions/${session}/workspace/sessions/session-id-1/close`);
      assert.deepEqual(posts().at(-1).body, {});

      // Pick a presence.
      await ws.getByTestId("ws-presence").selectOption("busy");
      await waitFor(() => fake.st.presence.presenceId === "busy", "presence busy at the API");
      assert.deepEqual(posts().at(-1).body, { presenceId: "busy" });
      await waitFor(async () => (await dash.locator("#ws-presence-dot").evaluate((e) => getComputedStyle(e).backgroundColor)) === "rgb(255, 0, 0)", "the presence colour");

      // The poll keeps the view in step with changes made elsewhere.
      fake.st.sessions[1].kpiBreach = "handle time";
      await sessionTab("session-id-2").getByTestId("ws-kpi").waitFor({ timeout: 5000 });
      assert.deepEqual(dash.errors.map(String), []);
    } finally {
      await dash.close();
    }
  });

  it("plays the agent for the CIF 2.0 sample against the real workspace (when this daemon has it)", { timeout: 60_000 }, async (t) => {
    const seeded = await startDaemon(["--emulator-seed", path.join(repoRoot, "bridge/emulator/testdata/seed-example.json")]);
    const w = await newPage(env.browser);
    const dash = await newPage(env.browser, { viewport: { width: 1440, height: 1000 } });
    try {
      if (!(await fetch(seeded.base + "/examples/multisession.html", { method: "HEAD" })).ok) {
        t.skip("this daemon has no CIF 2.0 sample and workspace yet");
        return;
      }
      await w.goto(seeded.base + "/examples/multisession.html");
      await w.waitForFunction(() => window.cifbridge && window.cifbridge.connected && window.multisession.presence);
      const sess = await w.evaluate(() => window.cifbridge.session);
      await dash.goto(seeded.base + "/");
      const ws = dash.getByTestId("workspace");
      await ws.locator('[data-testid=ws-session][data-session="session-id-0"]').waitFor();
      assert.equal(await dash.getByTestId("ev-session").inputValue(), sess);

      // Ada calls: the toast counts down in the panel; the agent accepts it there.
      await w.getByTestId("number").fill("+358401234567");
      await w.getByTestId("ring").click();
      const toast = ws.getByTestId("ws-toast").filter({ hasText: "Incoming call from Ada Lovelace" });
      await toast.waitFor();
      assert.match(await toast.getByTestId("ws-remaining").innerText(), /^\d+\.\d s left$/);
      await toast.getByTestId("ws-accept").click();
      await w.waitForFunction(() => window.multisession.calls.some((c) => c.phase === "active"));
      // The widget opened a session titled with the caller, focused, with its tabs.
      const tab = ws.locator("[data-testid=ws-session]").filter({ hasText: "Call from Ada Lovelace" });
      await tab.waitFor();
      await waitFor(async () => (await tab.getAttribute("aria-selected")) === "true", "Ada's session focused");
      await waitFor(async () => (await ws.getByTestId("ws-tab").allInnerTexts()).some((x) => x.startsWith("Ada Lovelace")), "her contact tab");
      await ws.locator("[data-testid=ws-recent]").filter({ hasText: "accepted" }).first().waitFor();

      // The agent picks a presence: the widget hears onSetPresence.
      await ws.getByTestId("ws-presence").selectOption("busy");
      await w.waitForFunction(() => window.multisession.presence && window.multisession.presence.presenceId === "busy");

      // The agent closes the session: the widget hangs up.
      await tab.getByTestId("ws-close").click();
      await tab.waitFor({ state: "detached" });
      await w.waitForFunction(() => window.multisession.calls.every((c) => c.phase !== "active"));
      const snap = await adminJSON(seeded.base, "GET", `/api/v1/sessions/${sess}/workspace`);
      assert.deepEqual(snap.body.sessions.map((s) => s.sessionId), ["session-id-0"]);
      assert.deepEqual([...dash.errors, ...w.errors].map(String), []);
    } finally {
      await dash.close();
      await w.close();
      await seeded.stop();
    }
  });

  it("sends the dashboard's token with every workspace request", { timeout: 30_000 }, async () => {
    const secured = await startDaemon(["--token", "s3cret-token"]);
    const w = await newPage(env.browser);
    const dash = await newPage(env.browser);
    try {
      await w.goto(secured.base + "/examples/softphone.html?token=s3cret-token");
      await w.waitForFunction(() => window.cifbridge && window.cifbridge.connected);
      const sess = await w.evaluate(() => window.cifbridge.session);
      const fake = fakeWorkspace(sess);
      await dash.route(/\/api\/v1\/sessions\/[^/]+\/workspace(\/.*)?$/, (r) => fake.route(r));
      await dash.goto(secured.base + "/?token=s3cret-token");
      const ws = dash.getByTestId("workspace");
      await ws.locator('[data-testid=ws-toast][data-id="notification-4"] [data-testid=ws-accept]').click();
      await waitFor(() => fake.requests.some((r) => r.method === "POST"), "the accept");
      assert.ok(fake.requests.length >= 2);
      for (const r of fake.requests) assert.equal(r.auth, "Bearer s3cret-token", `${r.method} ${r.path}`);
    } finally {
      await dash.close();
      await w.close();
      await secured.stop();
    }
  });
});
