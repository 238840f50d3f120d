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
});
