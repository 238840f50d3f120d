// The multisession sample (CIF 2.0) in headless Chromium against the real
// daemon, with the agent played through the admin API: accept, a second
// call while the first is focused, switch, reject, timeout, hang-up and
// close. The widget must hear every workspace event with the reference's
// eventData shapes.

import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";

import { skipReason, startDaemon, launchBrowser, newPage, adminJSON, waitFor, repoRoot } from "./harness.js";

const SEED = path.join(repoRoot, "bridge/emulator/testdata/seed-example.json");
const ADA = "+358401234567";
const ALAN = "+358409876543";
// The incoming-call toast times out after this many seconds (templates file).
const RING_SECONDS = 4;

describe("multisession sample in Chromium", { skip: skipReason || false, timeout: 180_000 }, () => {
  let daemon, browser, page, session, base;

  const workspace = async () => {
    const res = await adminJSON(daemon.base, "GET", base);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return res.body;
  };
  const pending = async (title) =>
    waitFor(async () => (await workspace()).notifications.find((n) => n.state === "pending" && n.title === title), "a pending notification " + title);
  const agent = async (p, body) => {
    const res = await adminJSON(daemon.base, "POST", base + p, body);
    assert.equal(res.status, 200, p + ": " + JSON.stringify(res.body));
    return res.body;
  };
  const calls = () => page.evaluate(() => window.multisession.calls.map((c) => ({ ...c })));
  const events = () => page.evaluate(() => window.multisession.events);
  const callWhere = (pred, msg) => waitFor(async () => (await calls()).find(pred), msg);
  const record = async (id) => (await adminJSON(daemon.base, "GET", `/api/data/v9.2/phonecalls(${id})?$select=statecode,subject`)).body;

  before(async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "cifbridge-ms-"));
    const templates = path.join(dir, "templates.json");
    writeFileSync(templates, JSON.stringify({
      notificationTemplates: [{ name: "incoming_call", title: "Incoming call from {customer}", fields: { Number: "{number}" }, timeoutSeconds: RING_SECONDS }],
    }));
    daemon = await startDaemon(["--emulator-seed", SEED, "--workspace-templates", templates]);
    browser = await launchBrowser();
    page = await newPage(browser);
    await page.goto(daemon.base + "/examples/multisession.html");
    await page.waitForFunction(() => window.cifbridge && window.cifbridge.connected && window.multisession.presence);
    session = await page.evaluate(() => window.cifbridge.session);
    base = `/api/v1/sessions/${session}/workspace`;
  }, { timeout: 120_000 });

  after(async () => {
    await browser?.close();
    await daemon?.stop();
  });

  it("plays a multisession shift", { timeout: 120_000 }, async () => {
    // 1. Ada calls; the agent accepts: a session titled with her name, a
    //    contact tab and a phonecall tab, the phonecall created.
    await page.getByTestId("number").fill(ADA);
    await page.getByTestId("ring").click();
    let toast = await pending("Incoming call from Ada Lovelace");
    assert.equal(toast.fields.Number, ADA);
    assert.ok(toast.remainingMs > 0 && toast.remainingMs <= RING_SECONDS * 1000, "the toast counts down: " + toast.remainingMs);
    await agent("/notifications/" + toast.id, { action: "accept" });
    const ada = await callWhere((c) => c.number === ADA && c.phase === "active", "Ada's call active");
    assert.equal(ada.outcome, "Accept/Accept");
    let ws = await workspace();
    let s = ws.sessions.find((x) => x.sessionId === ada.sessionId);
    assert.equal(s.title, "Call from Ada Lovelace");
    assert.equal(s.focused, true);
    assert.deepEqual(s.tabs.map((t) => t.templateName), ["msdyn_entity_search", "contact_tab", "phonecall_tab"]);
    assert.equal(s.tabs.find((t) => t.templateName === "contact_tab").title, "Ada Lovelace");
    assert.equal((await record(ada.activityid)).subject, "Call from Ada Lovelace");

    // 2. Alan calls while Ada's session is focused; accepted, his session
    //    takes the focus.
    await page.evaluate((n) => { window.multisession.ring(n); }, ALAN);
    toast = await pending("Incoming call from Alan Turing");
    await agent("/notifications/" + toast.id, { action: "accept" });
    const alan = await callWhere((c) => c.number === ALAN && c.phase === "active", "Alan's call active");
    await waitFor(async () => (await page.evaluate(() => window.multisession.focused)) === alan.sessionId, "Alan's session focused in the widget");

    // 3. The agent switches back to Ada.
    await agent(`/sessions/${ada.sessionId}/focus`);
    await waitFor(async () => (await page.evaluate(() => window.multisession.focused)) === ada.sessionId, "Ada's session focused again");

    // 4. A third call is rejected; 5. a fourth rings out.
    await page.evaluate(() => { window.multisession.ring("+358400000001"); });
    toast = await pending("Incoming call from +358400000001");
    await agent("/notifications/" + toast.id, { action: "reject" });
    await callWhere((c) => c.number === "+358400000001" && c.phase === "declined" && c.outcome === "Reject/DeclinedByAgent", "the declined call");
    await page.evaluate(() => { window.multisession.ring("+358400000002"); });
    await pending("Incoming call from +358400000002");
    await callWhere((c) => c.number === "+358400000002" && c.phase === "missed" && c.outcome === "Timeout/DisplayTimeout", "the missed call", (RING_SECONDS + 5) * 1000);
    ws = await workspace();
    assert.equal(ws.sessions.length, 3, "home, Ada, Alan: no session for the rejected and missed calls");

    // 6. Ada hangs up: phonecall completed, its tab closed; the agent closes
    //    her session and the focus moves to Alan's.
    await page.getByTestId("hangup-" + ada.id).click();
    await waitFor(async () => (await record(ada.activityid)).statecode === 1, "Ada's phonecall completed");
    await waitFor(async () => {
      const x = (await workspace()).sessions.find((y) => y.sessionId === ada.sessionId);
      return x && !x.tabs.some((t) => t.templateName === "phonecall_tab");
    }, "the phonecall tab closed");
    await agent(`/sessions/${ada.sessionId}/close`);
    await waitFor(async () => (await page.evaluate(() => window.multisession.focused)) === alan.sessionId, "Alan's session focused after the close");

    // 7. The agent closes Alan's session while his call is live: the widget
    //    hangs up.
    await agent(`/sessions/${alan.sessionId}/close`);
    await waitFor(async () => (await record(alan.activityid)).statecode === 1, "Alan's phonecall completed on close");

    // 8. Presence from the agent.
    await agent("/presence", { presenceId: "busy" });
    await page.getByTestId("presence").filter({ hasText: "Busy" }).waitFor();

    // Every event, in order, with the reference's shapes.
    const ev = await events();
    const sessionEvents = ev.filter((e) => e.name !== "onSetPresence");
    for (const e of sessionEvents) {
      assert.equal(typeof e.data.sessionId, "string", JSON.stringify(e));
      assert.equal(typeof e.data.focused, "boolean", JSON.stringify(e));
      assert.equal(typeof e.data.context, "object", JSON.stringify(e));
    }
    const brief = sessionEvents.map((e) => `${e.name} ${e.data.sessionId === ada.sessionId ? "ada" : "alan"}${e.name === "onSessionSwitched" ? " " + e.data.focused : ""}`);
    assert.deepEqual(brief, [
      "onSessionCreated ada", "onSessionSwitched ada true",
      "onSessionCreated alan", "onSessionSwitched ada false", "onSessionSwitched alan true",
      "onSessionSwitched alan false", "onSessionSwitched ada true",
      "onBeforeSessionClosed ada", "onSessionClosed ada", "onSessionSwitched alan true",
      "onBeforeSessionClosed alan", "onSessionClosed alan",
    ]);
    const first = sessionEvents[0].data;
    assert.deepEqual(first.context, { customer: "Ada Lovelace" });
    const presence = ev.filter((e) => e.name === "onSetPresence").at(-1).data;
    assert.deepEqual(presence, { presenceId: "busy", presenceText: "Busy", presenceColor: "#FF0000", basePresenceStatus: "Busy" });
    assert.deepEqual(page.errors.map(String), []);
  });

  it("every CIF 2.0 method through Microsoft.CIFramework, with CIF's shapes", { timeout: 60_000 }, async () => {
    const p2 = await newPage(browser);
    await p2.goto(daemon.base + "/examples/multisession.html");
    await p2.waitForFunction(() => window.cifbridge && window.cifbridge.connected && window.multisession.presence);
    const sess2 = await p2.evaluate(() => window.cifbridge.session);
    const ws2 = `/api/v1/sessions/${sess2}/workspace`;
    const got = await p2.evaluate(async () => {
      const CIF = window.Microsoft.CIFramework;
      const r = {};
      const err = (p) => p.then((v) => "resolved " + JSON.stringify(v), (e) => e);
      r.canCreateSession = await CIF.canCreateSession();
      r.isConsoleApp = await CIF.isConsoleApp();
      r.focusedBefore = await CIF.getFocusedSession();
      r.sessionId = await CIF.createSession({ templateName: "call_session", templateParameters: { customer: "Grace" } }, undefined, "prov-1");
      r.all = await CIF.getAllSessions();
      r.session = await CIF.getSession(r.sessionId);
      r.focused = await CIF.getFocusedSession();
      r.requestFocus = await CIF.requestFocusSession(r.sessionId, 2);
      r.setSessionTitle = await CIF.setSessionTitle({ sessionId: r.sessionId, title: "Grace H." });
      r.updateContext = await CIF.updateContext({ ticket: "T-1" }, r.sessionId);
      r.tab = await CIF.createTab({ templateName: "msdyn_entityrecord", appContext: new Map([["etn", "incident"]]), isFocused: true });
      r.focusedTab = await CIF.getFocusedTab();
      r.tabs = await CIF.getTabs(undefined, "record");
      r.focusTab = await CIF.focusTab(r.tab);
      r.refreshTab = await CIF.refreshTab(r.tab);
      r.setTabTitle = await CIF.setTabTitle(r.tab, { title: "Case" });
      r.closeTab = await CIF.closeTab(r.tab);
      r.closeTabAgain = await err(CIF.closeTab(r.tab));
      r.kpi = await CIF.notifyKpiBreach(r.sessionId, false, "wait time");
      r.activity = await CIF.notifyNewActivity(r.sessionId, 3);
      r.initList = await CIF.initializeAgentPresenceList([{ presenceId: "p1", presenceText: "Ready" }, { presenceId: "p2", presenceText: "Lunch" }]);
      r.setPresence = await CIF.setPresence("Lunch");
      r.setPresenceNo = await CIF.setPresence("lunch");
      r.presence = await CIF.getPresence();
      r.setAgentPresence = await CIF.setAgentPresence({ presenceId: "p1" });
      r.conversation = await CIF.updateConversation("conv-1", { statuscode: 4 });
      r.initLog = await CIF.initLogAnalytics({ conversation: { conversationId: "conv-1", session: { providerSessionId: "prov-1" } } });
      r.logEvent = await CIF.logAnalyticsEvent({ conversationId: "conv-1", providerSessionId: "prov-1" }, "hold");
      r.kb = await CIF.openKBSearchControl("vpn");
      let raised = null;
      CIF.addHandler("oncustomevent", (d) => { raised = d; return Promise.resolve(null); });
      r.raiseEvent = await CIF.raiseEvent("oncustomevent", "test input value");
      r.raised = raised;
      r.unknownTemplate = await err(CIF.notifyEvent({ templateName: "nope" }));
      r.blankToken = await err(CIF.cancelEvent(""));
      window.pendingNotify = CIF.notifyEvent({ templateName: "incoming_call", templateParameters: { customer: "Grace" } }, undefined, "tok-9");
      window.pendingCancel = CIF.notifyEvent({ templateName: "incoming_call", templateParameters: { customer: "Linus" } }, undefined, "tok-10");
      window.pendingNotes = CIF.insertNotes("contact", "contacts", "11111111-1111-4111-8111-111111111111", "note-1");
      return r;
    });
    assert.equal(got.canCreateSession, true);
    assert.equal(got.isConsoleApp, true);
    assert.equal(got.focusedBefore, null);
    assert.match(got.sessionId, /^session-id-\d+$/);
    assert.deepEqual(got.all, [got.sessionId]);
    assert.deepEqual(got.session, { sessionId: got.sessionId, context: { customer: "Grace" }, isFocused: true, title: "Call from Grace", templateName: "call_session", providerSessionId: "prov-1" });
    assert.equal(got.focused, got.sessionId);
    for (const k of ["requestFocus", "setSessionTitle", "focusTab", "refreshTab", "closeTab", "kpi", "activity"]) assert.equal(got[k], undefined, k);
    assert.equal(got.updateContext, '{"customer":"Grace","ticket":"T-1"}');
    assert.equal(got.focusedTab, got.tab);
    assert.deepEqual(got.tabs, [got.tab]);
    assert.equal(got.setTabTitle, "Case");
    assert.equal(JSON.parse(got.closeTabAgain).msdyn_name, "closeTab");
    assert.deepEqual([got.initList, got.setPresence, got.setPresenceNo, got.setAgentPresence], [true, true, false, true]);
    assert.equal(got.presence, '{"presenceId":"p2","presenceText":"Lunch"}');
    assert.deepEqual(JSON.parse(got.conversation), { msdyn_ocliveworkitemid: "conv-1", statuscode: 4 });
    assert.deepEqual(JSON.parse(got.initLog), { logged: true, conversationId: "conv-1" });
    assert.deepEqual(JSON.parse(got.logEvent), { logged: true, conversationId: "conv-1", eventName: "hold" });
    assert.equal(got.kb, true);
    assert.equal(got.raiseEvent, true);
    assert.equal(got.raised, "test input value");
    assert.equal(got.unknownTemplate, '{"message":"NotificationTemplateNotFoundError","msdyn_name":"NotifyEvent"}');
    assert.equal(JSON.parse(got.blankToken).msdyn_name, "cancelEvent");

    // The agent: accepts the call and saves the note; the provider cancels the other.
    const note = await waitFor(async () => (await adminJSON(daemon.base, "GET", ws2)).body.notifications.find((n) => n.kind === "insertNotes"), "the notes dialog");
    const grace = await waitFor(async () => (await adminJSON(daemon.base, "GET", ws2)).body.notifications.find((n) => n.title === "Incoming call from Grace"), "Grace's call");
    assert.equal((await adminJSON(daemon.base, "POST", `${ws2}/notifications/${grace.id}`, { action: "accept" })).status, 200);
    assert.equal((await adminJSON(daemon.base, "POST", `${ws2}/notifications/${note.id}`, { action: "accept" })).status, 200);
    const after = await p2.evaluate(async () => {
      const cancelled = await window.Microsoft.CIFramework.cancelEvent("tok-10");
      return { notify: await window.pendingNotify, cancel: await window.pendingCancel, cancelled, notes: await window.pendingNotes };
    });
    assert.equal(after.notify, '{"value":{"actionName":"Accept","responseReason":"Accept"}}');
    assert.equal(after.cancel, '{"value":{"actionName":"Cancel","responseReason":"CancelledByProvider"}}');
    assert.equal(after.cancelled, after.cancel);
    assert.deepEqual(JSON.parse(after.notes), { entityName: "contact", entityId: "11111111-1111-4111-8111-111111111111", annotationId: "note-1" });
    const snap = (await adminJSON(daemon.base, "GET", ws2)).body;
    const s = snap.sessions.find((x) => x.sessionId === got.sessionId);
    assert.equal(s.title, "Grace H.");
    assert.equal(s.kpiBreach, "wait time");
    assert.equal(s.newActivity, 3);
    assert.deepEqual(p2.errors.map(String), []);
    await p2.close();
  });
});
