// The emulated Dynamics main window (/host/) in headless Chromium, hosting a
// test widget (pages/host-widget.html) that speaks CIF's postMessage wire
// format with its own code: Maps by structured clone, 5-character
// correlation ids, its own timer, trusted domains reduced to
// protocol//hostname (so the port is dropped).
//
// Because the widget posts to "http://127.0.0.1" (no port), the host page
// must have a port-less origin: the daemon listens on port 80. That needs
// root (or CAP_NET_BIND_SERVICE); without it the test is skipped with a
// message, unless CIFBRIDGE_REQUIRE_BROWSER is set (CI runs as root).
//
// Origins: the host page is http://<addr> (addr 127.0.0.1, or another
// loopback address when port 80 is taken there); the widget comes from
// http://widget.test:<port> and an untrusted frame from
// http://evil.test:<port>, both a small static server on loopback that
// Chromium reaches through --host-resolver-rules.
//
// Timers: the bridge runs with --cif-timeout 2s and the widget's timer is
// set to 2000 ms with ?timeoutMs= (its default is CIF's 10 000 ms), so a
// timeout takes two seconds, not ten (one second was too tight for events
// on a loaded machine). The host page takes its timer from the bridge
// session (2000 ms).

import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { createServer as createTLSServer } from "node:https";
import { readFile, readdir, writeFile, mkdtemp, rm } from "node:fs/promises";
import { execFile } from "node:child_process";
import { tmpdir } from "node:os";
import net from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

import {
  skipReason, startDaemon, buildDaemon, newPage, adminJSON, waitFor, artifact, chromiumPath, CHROMIUM_ARGS, TIMEOUT_MESSAGE, sleep,
} from "./harness.js";

const pagesDir = path.join(path.dirname(fileURLToPath(import.meta.url)), "pages");
const required = !!process.env.CIFBRIDGE_REQUIRE_BROWSER;
const UNTRUSTED = "Sender domain is not a recognised or is invalid and hence the message cant be processed";
const NO_HANDLER = "No handlers found to process the request.";
/** The bridge's --cif-timeout and the test widget's timer, in ms. */
const T = 2000;

/** Whether addr:port can be bound now: "" when it can, else the error code (EACCES, EADDRINUSE, …). */
function bindError(addr, port = 80) {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once("error", (err) => resolve(err.code || String(err)));
    s.listen(port, addr, () => s.close(() => resolve("")));
  });
}

const ADDRS = ["127.0.0.1", "127.0.80.1", "127.0.80.2", "127.0.80.3"];
let bindErrors = [];
const hostAddr = await (async () => {
  if (skipReason) return "";
  for (const a of ADDRS) {
    const code = await bindError(a);
    if (!code) return a;
    bindErrors.push(code);
    if (code === "EACCES" || code === "EPERM") return "";
  }
  return "";
})();

const skip = skipReason || (hostAddr ? "" : (() => {
  const why = bindErrors.includes("EACCES") || bindErrors.includes("EPERM")
    ? "the host page test binds port 80 (CIF's library drops the port of data-crmurl, so the host page needs a port-less origin) and that needs root or CAP_NET_BIND_SERVICE; run as root"
    : `port 80 cannot be bound on any loopback address tried (${ADDRS.join(", ")}: ${bindErrors.join(", ")})`;
  if (required) throw new Error("CIFBRIDGE_REQUIRE_BROWSER is set but " + why);
  process.stderr.write("# host page test skipped: " + why + "\n");
  return why;
})());

/** Serves pages/ on loopback for the widget's and the untrusted frame's origins (https with tls). */
async function startPages(tls) {
  const server = (tls ? (h) => createTLSServer(tls, h) : createServer)(async (req, res) => {
    const rel = decodeURIComponent(new URL(req.url, "http://x").pathname);
    const file = path.join(pagesDir, path.normalize(rel));
    if (!file.startsWith(pagesDir + path.sep)) {
      res.writeHead(403).end();
      return;
    }
    try {
      const body = await readFile(file);
      res.writeHead(200, { "Content-Type": file.endsWith(".html") ? "text/html; charset=utf-8" : "text/javascript" }).end(body);
    } catch {
      res.writeHead(404).end("not found");
    }
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  return { port: server.address().port, close: () => new Promise((r) => server.close(r)) };
}

describe("host page (/host/) with a CIF widget over postMessage", { skip: skip || false, timeout: 180_000 }, () => {
  let daemon, pages, browser, page, captureDir, base, session;
  const widget = () => page.frame({ url: /^http:\/\/widget\.test:/ });
  const daemonArgs = () => ["--listen", hostAddr + ":80", "--cif-timeout", T + "ms", "--capture-dir", captureDir];

  before(async () => {
    captureDir = await mkdtemp(path.join(tmpdir(), "cifbridge-host-capture-"));
    daemon = await startDaemon(daemonArgs());
    base = "http://" + hostAddr;
    pages = await startPages();
    const { chromium } = await import("playwright-core");
    browser = await chromium.launch({
      executablePath: chromiumPath,
      args: [...CHROMIUM_ARGS, "--host-resolver-rules=MAP widget.test 127.0.0.1, MAP evil.test 127.0.0.1"],
      timeout: 30_000,
    });
    page = await newPage(browser);
    page.on("console", (m) => {
      if (process.env.HOSTPAGE_DEBUG) process.stderr.write("# page: " + m.text() + "\n");
    });
    const widgetURL = `http://widget.test:${pages.port}/host-widget.html?crmurl=${encodeURIComponent(base)}&timeoutMs=${T}`;
    await page.goto(`${base}/host/?widget=${encodeURIComponent(widgetURL)}`);
    await page.waitForSelector("body[data-ready=true]");
    await waitFor(() => widget(), "the widget frame");
    await widget().waitForFunction(() => window.widgetReady === true);
    session = await page.evaluate(() => window.cifHost.client.session);
    assert.match(session, /\S/);
  }, { timeout: 90_000 });

  after(async () => {
    if (page) {
      await page.screenshot({ path: artifact("hostpage.png"), fullPage: true }).catch(() => {});
      assert.deepEqual(page.errors.map(String), []);
    }
    await browser?.close();
    await pages?.close();
    await daemon?.stop();
    if (captureDir) await rm(captureDir, { recursive: true, force: true });
  });

  it("the widget's library sees a port-less trusted domain and 5-character-ish ids", async () => {
    const d = await widget().evaluate(() => window.CIF.domains);
    assert.deepEqual(d, [base]);
  });

  it("CRUD with nested Maps, answered as Maps the way the real host builds them", async () => {
    const r = await widget().evaluate(async () => {
      const created = await window.CIF.createRecord("contact", JSON.stringify({ firstname: "Ada", lastname: "Lovelace", telephone1: "+358401234567", mobilephone: "+358407654321" }));
      const createAnswer = window.received.find((m) => m.id === window.sent.at(-1).id);
      const id = JSON.parse(created).id;
      const retrieved = JSON.parse(await window.CIF.retrieveRecord("contact", id, "?$select=fullname,telephone1"));
      const retrieveAnswer = window.received.find((m) => m.id === window.sent.at(-1).id);
      const updated = JSON.parse(await window.CIF.updateRecord("contact", id, JSON.stringify({ lastname: "King" })));
      const again = JSON.parse(await window.CIF.retrieveRecord("contact", id, "?$select=lastname"));
      const deleted = await window.CIF.deleteRecord("contact", id);
      let gone;
      try {
        await window.CIF.retrieveRecord("contact", id);
      } catch (e) {
        gone = JSON.parse(e);
      }
      // The library reads these answers with buildEntity too.
      const env = JSON.parse(await window.CIF.getEnvironment());
      const found = JSON.parse(await window.CIF.searchAndOpenRecords("contact", "?$select=fullname&$top=2", true));
      return { created: JSON.parse(created), createAnswer, retrieveAnswer, retrieved, updated, again, deleted, gone, env, found, ids: window.sent.map((s) => s.id) };
    });
    assert.equal(typeof r.env.orgUniqueName, "string", JSON.stringify(r.env));
    assert.equal(typeof r.found["0"].fullname, "string", JSON.stringify(r.found));
    assert.equal(r.created.entityType, "contact");
    assert.match(r.created.id, /^[0-9a-f-]{36}$/);
    assert.equal(r.createAnswer.outcome, "success");
    assert.equal(r.createAnswer.isMap, true, "messageData is a Map");
    assert.equal(r.createAnswer.valueIsMap, true, "the created LookupValue is a nested Map");
    assert.equal(r.retrieveAnswer.isMap, true);
    assert.equal(r.retrieveAnswer.valueIsMap, true, "a retrieved record is a Map, as the real host's buildMap makes it (the library reads it with buildEntity)");
    assert.equal(r.retrieved.fullname, "Ada Lovelace");
    assert.equal(r.retrieved.telephone1, "+358401234567");
    assert.deepEqual(r.updated, { entityType: "contact", id: r.created.id });
    assert.equal(r.again.lastname, "King");
    assert.ok(r.deleted);
    assert.equal(r.gone.value.errorType, 2, JSON.stringify(r.gone));
    for (const id of r.ids) assert.ok(id.length >= 4 && id.length <= 6, `correlation id ${id}`);
  });

  it("a Dataverse error rejects with CIF's {value:{errorMsg,sourceFunc,errorType,reportTime}}", async () => {
    const [err, envelope] = await widget().evaluate(async () => [
      await window.CIF.retrieveRecord("contact", "00000000-0000-0000-0000-0000000000aa").then(() => null, (e) => JSON.parse(e)),
      window.received.find((m) => m.id === window.sent.at(-1).id),
    ]);
    assert.equal(envelope.outcome, "failure");
    assert.equal(envelope.isMap, true, "the error is a Map");
    assert.equal(envelope.valueIsMap, false, "its IErrorHandler is a plain object");
    assert.ok(err && err.value, JSON.stringify(err));
    assert.match(err.value.errorMsg, /does not exist/i);
    assert.equal(err.value.errorType, 2);
    assert.ok(!isNaN(Date.parse(err.value.reportTime)));
    const bad = await widget().evaluate(() => window.CIF.createRecord("", "{}").then(() => null, (e) => JSON.parse(e)));
    assert.equal(bad.msdyn_name, "createRecord", JSON.stringify(bad));
    assert.match(bad.message, /entityName/);
  });

  it("a messageType the host has no handler for is answered success \"No handlers found\"", async () => {
    const r = await widget().evaluate(async () => {
      const v = await window.CIF.send("nosuchcall", new Map([["x", 1]]));
      const m = window.received.find((x) => x.id === window.sent.at(-1).id);
      return { v, m };
    });
    assert.equal(r.v, null);
    assert.equal(r.m.outcome, "success");
    assert.deepEqual(r.m.data, { message: NO_HANDLER });
  });

  it("a frame from an untrusted origin gets CIF's failure; nothing reaches the bridge", async () => {
    await widget().evaluate((src) => {
      const f = document.createElement("iframe");
      f.src = src;
      document.body.append(f);
    }, `http://evil.test:${pages.port}/host-widget.html?crmurl=${encodeURIComponent(base)}&timeoutMs=${2 * T}`);
    const evil = await waitFor(() => page.frame({ url: /^http:\/\/evil\.test:/ }), "the untrusted frame");
    await evil.waitForFunction(() => window.widgetReady === true);
    const err = await evil.evaluate(() => window.CIF.createRecord("contact", JSON.stringify({ lastname: "Mallory" })).then(() => null, (e) => JSON.parse(e)));
    assert.deepEqual(err, { message: UNTRUSTED });
    const mallory = await adminJSON(daemon.base, "GET", "/api/data/v9.2/contacts?$filter=lastname eq 'Mallory'");
    assert.equal(mallory.status, 200);
    assert.deepEqual(mallory.body.value, [], "the untrusted request never reached the emulator");
    const log = await page.evaluate(() => window.cifHost.entries.map((e) => e.text).join("\n"));
    assert.match(log, /refused createrecord from untrusted http:\/\/evil\.test/);
  });

  it("setMode/setWidth drive the panel; the user's changes raise onmodechanged/onsizechanged and getMode/getWidth agree", async () => {
    await widget().evaluate(() => window.CIF.setMode(0));
    assert.equal(await page.getAttribute("[data-testid=panel]", "data-mode"), "minimized");
    await page.screenshot({ path: artifact("hostpage-minimized.png") });
    assert.equal(await widget().evaluate(() => window.CIF.getMode()), 0);
    await widget().evaluate(() => window.CIF.setMode(1));
    await widget().evaluate(() => window.CIF.setWidth(480));
    assert.equal(await page.getAttribute("[data-testid=panel]", "data-mode"), "docked");
    assert.equal(await page.$eval("[data-testid=panel]", (el) => el.getBoundingClientRect().width), 480);
    assert.equal(await widget().evaluate(() => window.CIF.getWidth()), 480);
    const badMode = await widget().evaluate(() => window.CIF.setMode(7).then(() => null, (e) => JSON.parse(e)));
    assert.match(badMode.message, /setMode/);

    // The user hides the panel: the widget hears it and getMode says 2.
    await widget().evaluate(() => (window.events.length = 0));
    await page.click("[data-testid=mode-hidden]");
    assert.equal(await page.getAttribute("[data-testid=panel]", "data-mode"), "hidden");
    await waitFor(() => widget().evaluate(() => window.events.find((e) => e.name === "onmodechanged")), "onmodechanged at the widget");
    const ev = await widget().evaluate(() => window.events.find((e) => e.name === "onmodechanged"));
    assert.equal(ev.isString, true, "event messageData is a JSON string");
    assert.deepEqual(JSON.parse(ev.data), { value: 2 });
    assert.equal(await widget().evaluate(() => window.CIF.getMode()), 2);
    await page.click("[data-testid=panel-restore]");
    assert.equal(await page.getAttribute("[data-testid=panel]", "data-mode"), "docked");

    // The user types a width.
    await page.fill("[data-testid=panel-width]", "400");
    await page.dispatchEvent("[data-testid=panel-width]", "change");
    await waitFor(() => widget().evaluate(() => window.events.find((e) => e.name === "onsizechanged")), "onsizechanged at the widget");
    const size = await widget().evaluate(() => window.events.find((e) => e.name === "onsizechanged"));
    assert.deepEqual(JSON.parse(size.data), { value: 400 });
    await waitFor(async () => (await widget().evaluate(() => window.CIF.getWidth())) === 400, "getWidth 400 after the user's change");

    // The user drags the panel's left edge 100 px to the left: one onsizechanged when the drag ends.
    await widget().evaluate(() => (window.events.length = 0));
    const edge = await page.$eval("[data-testid=panel] .panel-edge", (el) => { const r = el.getBoundingClientRect(); return { x: r.x + r.width / 2, y: r.y + r.height / 2 }; });
    await page.mouse.move(edge.x, edge.y);
    await page.mouse.down();
    await page.mouse.move(edge.x - 50, edge.y, { steps: 5 });
    await page.mouse.move(edge.x - 100, edge.y, { steps: 5 });
    await page.mouse.up();
    await waitFor(() => widget().evaluate(() => window.events.some((e) => e.name === "onsizechanged")), "onsizechanged after the drag");
    const dragged = await widget().evaluate(() => window.events.filter((e) => e.name === "onsizechanged").map((e) => JSON.parse(e.data)));
    assert.deepEqual(dragged, [{ value: 500 }]);
    await waitFor(async () => (await widget().evaluate(() => window.CIF.getWidth())) === 500, "getWidth 500 after the drag");
  });

  it("openForm, refreshForm, renderSearchPage and searchAndOpenRecords show records; navigation raises onpagenavigate", async () => {
    const id = await widget().evaluate(async () =>
      JSON.parse(await window.CIF.createRecord("contact", JSON.stringify({ firstname: "Grace", lastname: "Hostpagetest", telephone1: "+358409999999" }))).id,
    );
    await widget().evaluate(() => (window.events.length = 0));
    await widget().evaluate((id) => window.CIF.openForm(JSON.stringify({ entityName: "contact", entityId: id })), id);
    await page.waitForSelector(`[data-testid=record-form][data-id="${id}"]`);
    assert.equal(await page.textContent("[data-testid=phone-telephone1]"), "+358409999999");
    await waitFor(() => widget().evaluate(() => window.events.find((e) => e.name === "onpagenavigate")), "onpagenavigate");
    const nav = await widget().evaluate(() => JSON.parse(window.events.find((e) => e.name === "onpagenavigate").data));
    assert.match(nav.value, new RegExp(`pagetype=entityrecord&etn=contact&id=${id}`));

    // openForm without an id: a new-record form with entityFormParameters.
    await widget().evaluate(() => window.CIF.openForm(JSON.stringify({ entityName: "contact" }), JSON.stringify({ lastname: "Newton", mobilephone: "+358402222222" })));
    await page.waitForSelector("[data-testid=record-form]:not([data-id]) [data-testid=phone-mobilephone]");
    assert.equal(await page.textContent("[data-testid=view] h1"), "New Contact");
    await widget().evaluate((id) => window.CIF.openForm(JSON.stringify({ entityName: "contact", entityId: id })), id);
    await page.waitForSelector(`[data-testid=record-form][data-id="${id}"]`);

    // refreshForm shows what changed meanwhile.
    await widget().evaluate((id) => window.CIF.updateRecord("contact", id, JSON.stringify({ telephone1: "+358400000001" })), id);
    await widget().evaluate(() => window.CIF.refreshForm(false));
    await page.waitForSelector("[data-testid=phone-telephone1]:text('+358400000001')");

    await widget().evaluate(() => window.CIF.renderSearchPage("contact", "Hostpagetest"));
    await page.waitForSelector("[data-testid=view][data-view=search] [data-testid=record-list] >> text=Grace Hostpagetest");

    await page.click("[data-testid=nav-contacts]");
    await page.waitForSelector("[data-testid=view][data-view=list]");
    const found = await widget().evaluate(() => window.CIF.searchAndOpenRecords("contact", "?$filter=lastname eq 'Hostpagetest'", false));
    assert.equal(Object.keys(JSON.parse(found)).length, 1);
    await page.waitForSelector(`[data-testid=record-form][data-id="${id}"]`);
  });

  it("onclicktoact round trip with the widget's answer; answered false without the widget while click-to-act is off", async () => {
    await widget().evaluate(() => (window.events.length = 0));
    // The form of the last test is open; click its phone field.
    await page.click("[data-testid=phone-telephone1]");
    await waitFor(() => widget().evaluate(() => window.events.find((e) => e.name === "onclicktoact")), "onclicktoact at the widget");
    const ev = await widget().evaluate(() => window.events.find((e) => e.name === "onclicktoact"));
    assert.deepEqual(JSON.parse(ev.data), { value: "+358400000001", name: "telephone1", format: "phone", entityLogicalName: "contact" });
    await waitFor(() => page.evaluate(() => window.cifHost.entries.some((e) => /onclicktoact answered .*accepted/.test(e.text))), "the widget's answer in the page log");

    // The same through the admin API: the answer is the widget's.
    const res = await adminJSON(daemon.base, "POST", `/api/v1/sessions/${session}/events`, { eventType: "onclicktoact", eventData: { value: "+358401111111", name: "mobilephone", format: "phone", entityLogicalName: "contact" } });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.deepEqual(JSON.parse(res.body.result), { accepted: true, number: "+358401111111" });

    await widget().evaluate(() => window.CIF.setClickToAct(false));
    assert.equal(await widget().evaluate(() => window.CIF.getClickToAct()), false);
    await widget().evaluate(() => (window.events.length = 0));
    const off = await adminJSON(daemon.base, "POST", `/api/v1/sessions/${session}/events`, { eventType: "onclicktoact", eventData: { value: "+358401111111", name: "mobilephone", format: "phone", entityLogicalName: "contact" } });
    assert.equal(off.status, 200, JSON.stringify(off.body));
    assert.equal(off.body.result, false);
    assert.deepEqual(await widget().evaluate(() => window.events.filter((e) => e.name === "onclicktoact")), []);
    await widget().evaluate(() => window.CIF.setClickToAct(true));
  });

  it("CIF 2.0 on the page: the agent accepts and rejects the widget's notifyEvent toasts, sees its session tabs, focuses, closes, and picks a presence", async () => {
    // The widget's handlers of the workspace events record what it hears.
    await widget().evaluate(() => {
      window.events.length = 0;
      for (const name of ["onSessionCreated", "onSessionSwitched", "onBeforeSessionClosed", "onSessionClosed", "onSetPresence"]) {
        window.CIF.addHandler(name, (data) => {
          window.events.push({ name, data: JSON.parse(data) });
          return true;
        });
      }
    });
    // The page shows the workspace of its own session: the Home tab and the presence picker.
    await page.waitForSelector("[data-testid=sessions]:not([hidden]) [data-testid=ws-session][data-session=session-id-0]");
    await page.waitForSelector("[data-testid=presence]:not([hidden])");
    assert.equal(await page.isHidden("[data-testid=toasts]"), true, "no toast area while nothing is pending");
    const notify = (customer, token) =>
      widget().evaluate(([customer, token]) => {
        const key = "notify-" + customer;
        window[key] = undefined;
        window.CIF.notifyEvent({ templateName: "incoming_call", templateParameters: { customer, number: "+358401234567" } }, token).then(
          (v) => (window[key] = { ok: JSON.parse(v) }),
          (e) => (window[key] = { err: e }),
        );
        return key;
      }, [customer, token]);
    const outcome = (key) => waitFor(() => widget().evaluate((k) => window[k], key), key + " to resolve in the widget", 10_000);

    // Accept: the toast shows the template's title, its fields and the time left.
    const adaKey = await notify("Ada", "call-ada");
    const toast = page.locator("[data-testid=ws-toast]", { hasText: "Incoming call from Ada" });
    await toast.waitFor();
    assert.equal(await page.isVisible("[data-testid=toasts]"), true);
    assert.match(await toast.textContent(), /\+358401234567/);
    await waitFor(async () => /\d+\.\d s left/.test(await toast.locator("[data-testid=ws-remaining]").textContent()), "the toast's remaining time");
    const left = parseFloat(await toast.locator("[data-testid=ws-remaining]").textContent());
    assert.ok(left > 0 && left <= 30, `remaining ${left} s of incoming_call's 30 s`);
    await page.screenshot({ path: artifact("hostpage-toast.png") });
    assert.equal(await widget().evaluate((k) => window[k], adaKey), undefined, "notifyEvent waits for the agent");
    await toast.locator("[data-testid=ws-accept]").click();
    assert.deepEqual(await outcome(adaKey), { ok: { value: { actionName: "Accept", responseReason: "Accept" } } });
    await page.waitForSelector("[data-testid=toasts]", { state: "hidden" });

    // Reject.
    const bobKey = await notify("Bob", "call-bob");
    await page.locator("[data-testid=ws-toast]", { hasText: "Incoming call from Bob" }).locator("[data-testid=ws-reject]").click();
    assert.deepEqual(await outcome(bobKey), { ok: { value: { actionName: "Reject", responseReason: "DeclinedByAgent" } } });

    // notifyEvent as Microsoft's library posts it (input members at the top
    // of messageData) toasts too, and resolves through the library's
    // buildEntity, which needs the value as a Map.
    await widget().evaluate(() => {
      window.libNotify = undefined;
      window.CIF.libNotifyEvent({ templateName: "incoming_call", templateParameters: { customer: "Lib", number: "+358401234567" } }, "corr-1").then(
        (v) => (window.libNotify = { ok: JSON.parse(v) }),
        (e) => (window.libNotify = { err: String(e) }),
      );
    });
    await page.locator("[data-testid=ws-toast]", { hasText: "Incoming call from Lib" }).locator("[data-testid=ws-accept]").click();
    assert.deepEqual(await outcome("libNotify"), { ok: { value: { actionName: "Accept", responseReason: "Accept" } } });

    // The widget opens two sessions: each appears as a focused tab on the page.
    const first = JSON.parse(await widget().evaluate(() => window.CIF.createSession({ templateName: "call_session", templateParameters: { customer: "Ada" } })));
    const tabOf = (id) => page.locator(`[data-testid=ws-session][data-session="${id}"]`);
    await tabOf(first).waitFor();
    assert.match(await tabOf(first).textContent(), /Call from Ada/);
    await waitFor(async () => (await tabOf(first).getAttribute("aria-selected")) === "true", "the new session focused");
    const second = JSON.parse(await widget().evaluate(() => window.CIF.createSession({ templateName: "call_session", templateParameters: { customer: "Alan" } })));
    await waitFor(async () => (await tabOf(second).getAttribute("aria-selected")) === "true", "the second session focused");
    assert.equal(await tabOf(first).getAttribute("aria-selected"), "false");
    assert.ok(await page.locator("[data-testid=ws-tabs] [data-testid=ws-tab]").count() >= 1, "the focused session's own tabs");
    const created = await waitFor(async () => {
      const ev = await widget().evaluate(() => window.events.filter((e) => e.name === "onSessionCreated").map((e) => e.data.sessionId));
      return ev.length === 2 && ev;
    }, "onSessionCreated twice at the widget");
    assert.deepEqual(created, [first, second]);

    // The agent focuses the first session on the page.
    await widget().evaluate(() => (window.events.length = 0));
    await tabOf(first).locator(".ws-title").click();
    await waitFor(async () => (await tabOf(first).getAttribute("aria-selected")) === "true", "the first session focused by the agent");
    assert.equal(await widget().evaluate(() => window.CIF.getFocusedSession()), first);
    await waitFor(() => widget().evaluate((id) => window.events.some((e) => e.name === "onSessionSwitched" && e.data.sessionId === id && e.data.focused === true), first), "onSessionSwitched to the first session");

    // getTabs as the library posts it: the name as "msdyn_name".
    const focusedTabs = (await adminJSON(daemon.base, "GET", `/api/v1/sessions/${session}/workspace`)).body.sessions.find((s) => s.sessionId === first).tabs;
    assert.deepEqual(await widget().evaluate((name) => window.CIF.libGetTabs(name), focusedTabs[0].templateName), focusedTabs.filter((t) => t.templateName === focusedTabs[0].templateName).map((t) => t.tabId));

    // The agent closes the second one.
    await tabOf(second).locator("[data-testid=ws-close]").click();
    await tabOf(second).waitFor({ state: "detached" });
    await waitFor(() => widget().evaluate((id) => window.events.some((e) => e.name === "onSessionClosed" && e.data.sessionId === id), second), "onSessionClosed at the widget");
    const snap = await adminJSON(daemon.base, "GET", `/api/v1/sessions/${session}/workspace`);
    assert.equal(snap.status, 200);
    assert.deepEqual(snap.body.sessions.map((s) => s.sessionId), ["session-id-0", first]);
    assert.deepEqual(snap.body.notifications.filter((n) => n.title.endsWith("Ada") || n.title.endsWith("Bob")).map((n) => n.state).sort(), ["accepted", "rejected"]);

    // Presence: picked on the page, heard by the widget, kept by the bridge.
    await page.selectOption("[data-testid=ws-presence]", "busy");
    await waitFor(() => widget().evaluate(() => window.events.some((e) => e.name === "onSetPresence" && e.data.presenceId === "busy")), "onSetPresence busy at the widget");
    const after = await adminJSON(daemon.base, "GET", `/api/v1/sessions/${session}/workspace`);
    assert.equal(after.body.presence.presenceId, "busy");
    assert.equal(await page.$eval("#ws-presence-dot", (el) => el.style.background !== ""), true);
    await page.screenshot({ path: artifact("hostpage-workspace.png") });

    // Leave the workspace as it was for the tests below.
    await tabOf(first).locator("[data-testid=ws-close]").click();
    await tabOf(first).waitFor({ state: "detached" });
    await page.selectOption("[data-testid=ws-presence]", "available");
  });

  it("a call the emulator finishes after the timeout rejects with CIF's text; the late answer is recorded by the bridge and dropped at the page", async () => {
    const put = await adminJSON(daemon.base, "PUT", "/api/v1/emulator/faults", { seed: 1, rules: [{ method: "createrecord", entity: "account", latencyMs: 2 * T, count: 1 }] });
    assert.equal(put.status, 200, JSON.stringify(put.body));
    const r = await widget().evaluate(async () => {
      const t0 = performance.now();
      const out = await window.CIF.createRecord("account", JSON.stringify({ name: "Slow Ltd" })).then((v) => ({ ok: v }), (e) => ({ err: JSON.parse(e) }));
      return { ...out, ms: performance.now() - t0, id: window.sent.at(-1).id };
    });
    assert.deepEqual(r.err, { message: TIMEOUT_MESSAGE });
    assert.ok(r.ms >= T - 100 && r.ms < 2 * T - 100, `rejected after ${r.ms} ms`);
    // The late answer reaches the bridge (bridge.late) and the page logs it as dropped.
    await waitFor(() => page.evaluate(() => window.cifHost.entries.some((e) => e.level === "late" && /late answer of cif\.createrecord \(success/.test(e.text))), "the page's log of the late answer", 10_000);
    const info = (await adminJSON(daemon.base, "GET", `/api/v1/sessions/${session}`)).body;
    assert.ok(info.lateCounts && info.lateCounts.answered >= 1, JSON.stringify(info.lateCounts));
    // The bridge's own timeout error came after the widget's timer (the
    // bridge started its clock later): the page dropped it too.
    const dropped = await page.evaluate((id) => window.cifHost.entries.some((e) => e.level === "late" && e.text.startsWith(`createrecord ${id}: answered`) && /dropped, not posted/.test(e.text)), r.id);
    assert.ok(dropped, "the page logged the bridge's timeout answer as dropped");
    // Nothing was ever posted to the widget for that request.
    const got = await widget().evaluate((id) => window.received.filter((m) => m.id === id), r.id);
    assert.deepEqual(got, []);
    // The dashboard counts it.
    const dash = await newPage(browser);
    try {
      await dash.goto(base + "/");
      await waitFor(async () => Number(await dash.textContent("#k-lateanswers")) >= 1, "the dashboard's late-answer count", 10_000);
    } finally {
      await dash.close();
    }
    // The record exists: the call did happen (late).
    const list = await adminJSON(daemon.base, "GET", "/api/data/v9.2/accounts?$filter=name eq 'Slow Ltd'");
    assert.equal(list.body.value.length, 1);
    await adminJSON(daemon.base, "PUT", "/api/v1/emulator/faults", { seed: 1, rules: [] });
  });

  it("events: no handler in the widget, and a widget that never answers (timeout, nothing kept)", async () => {
    const none = await adminJSON(daemon.base, "POST", `/api/v1/sessions/${session}/events`, { eventType: "onsendkbarticle", eventData: { value: "kb-1" } });
    assert.equal(none.status, 200, JSON.stringify(none.body));
    assert.deepEqual(none.body.result, { message: NO_HANDLER });

    await widget().evaluate(() => window.CIF.addHandler("onSessionSwitched", () => new Promise(() => {})));
    const hung = await adminJSON(daemon.base, "POST", `/api/v1/sessions/${session}/events`, { eventType: "onSessionSwitched", eventData: { sessionId: "x" } });
    assert.equal(hung.status, 504, JSON.stringify(hung.body));
    assert.equal(hung.body.error.message, TIMEOUT_MESSAGE);
    await waitFor(() => page.evaluate(() => window.cifHost.relay.events.size === 0 && window.cifHost.relay.inflight.size === 0), "the relay to keep nothing after the timeout (the bridge's timeout plus the page's 2 s grace)", 3 * T);
  });

  it("with a widget timer longer than the bridge's timeout, the bridge's timeout error reaches the widget as CIF's Map", async () => {
    const p3 = await newPage(browser);
    const widgetURL = `http://widget.test:${pages.port}/host-widget.html?crmurl=${encodeURIComponent(base)}&timeoutMs=${4 * T}`;
    await p3.goto(`${base}/host/?widgetTimeoutMs=${4 * T}&widget=${encodeURIComponent(widgetURL)}`);
    await p3.waitForSelector("body[data-ready=true]");
    const w3 = await waitFor(() => p3.frames().find((f) => /^http:\/\/widget\.test:/.test(f.url())), "the widget frame");
    await w3.waitForFunction(() => window.widgetReady === true);
    await adminJSON(daemon.base, "PUT", "/api/v1/emulator/faults", { seed: 1, rules: [{ method: "retrieverecord", entity: "account", latencyMs: 1.5 * T, count: 1 }] });
    try {
      const r = await w3.evaluate(async () => {
        const t0 = performance.now();
        const err = await window.CIF.retrieveRecord("account", "00000000-0000-0000-0000-0000000000bb").then(() => null, (e) => e);
        const id = window.sent.at(-1).id;
        return { err, ms: performance.now() - t0, answers: window.received.filter((m) => m.id === id) };
      });
      assert.deepEqual(JSON.parse(r.err), { message: TIMEOUT_MESSAGE });
      assert.ok(r.ms >= T - 100 && r.ms < 4 * T - 100, `rejected after ${r.ms} ms: by the bridge's answer, not the widget's own timer`);
      assert.equal(r.answers.length, 1);
      assert.equal(r.answers[0].outcome, "failure");
      assert.equal(r.answers[0].isMap, true);
      // The late answer (the record does not exist: a failure) is logged, never posted.
      await waitFor(() => p3.evaluate(() => window.cifHost.entries.some((e) => /late answer of cif\.retrieverecord \(failure/.test(e.text))), "the late failure in the page log", 10_000);
      const after = await w3.evaluate((id) => window.received.filter((m) => m.id === id).length, r.answers[0].id);
      assert.equal(after, 1);
    } finally {
      await adminJSON(daemon.base, "PUT", "/api/v1/emulator/faults", { seed: 1, rules: [] });
      assert.deepEqual(p3.errors.map(String), []);
      await p3.close();
    }
  });

  it("without ?widget= the page says what to do; the Widget field opens one", async () => {
    const p4 = await newPage(browser);
    try {
      await p4.goto(`${base}/host/`);
      await p4.waitForSelector("body[data-ready=true]");
      assert.match(await p4.textContent("[data-testid=banner]"), /No widget: paste its URL/);
      const widgetURL = `http://widget.test:${pages.port}/host-widget.html?crmurl=${encodeURIComponent(base)}`;
      await p4.fill("[data-testid=widget-url]", widgetURL);
      await Promise.all([p4.waitForURL(/\?widget=/), p4.click("[data-testid=widget-form] button")]);
      assert.equal(new URL(p4.url()).searchParams.get("widget"), widgetURL);
      await p4.waitForSelector("body[data-ready=true]");
      const w4 = await waitFor(() => p4.frames().find((f) => /^http:\/\/widget\.test:/.test(f.url())), "the widget frame");
      await w4.waitForFunction(() => window.widgetReady === true);
      assert.equal(await w4.evaluate(() => window.CIF.getMode()), 1);
      assert.deepEqual(p4.errors.map(String), []);
    } finally {
      await p4.close();
    }
  });

  it("a ?widget= that is not an http(s) URL is refused: a javascript: URL never runs in the page's origin", async () => {
    for (const bad of ["javascript:alert(document.domain)", "data:text/html,<script>alert(1)</script>"]) {
      const p5 = await newPage(browser);
      const dialogs = [];
      p5.on("dialog", (d) => {
        dialogs.push(d.message());
        d.dismiss().catch(() => {});
      });
      try {
        await p5.goto(`${base}/host/?widget=${encodeURIComponent(bad)}`);
        await p5.waitForSelector("body[data-ready=true]");
        assert.match(await p5.textContent("[data-testid=banner]"), /is not an http or https URL/, bad);
        assert.equal(await p5.$eval("[data-testid=widget-frame]", (f) => f.getAttribute("src") || ""), "", bad);
        await sleep(300);
        assert.deepEqual(dialogs, [], bad);
        assert.deepEqual(p5.errors.map(String), []);
      } finally {
        await p5.close();
      }
    }
  });

  it("the session is captured and replays with cifbridge replay", async () => {
    // A second, short session on its own page, so the replay needs no fault
    // profile, on a fresh daemon: etags count the store's writes, and the
    // replay's embedded daemon starts fresh (the built-in seed, nothing else).
    // The first page loses its bridge meanwhile and reconnects.
    await daemon.stop();
    daemon = await startDaemon(daemonArgs());
    const p2 = await newPage(browser);
    const widgetURL = `http://widget.test:${pages.port}/host-widget.html?crmurl=${encodeURIComponent(base)}&timeoutMs=${T}`;
    await p2.goto(`${base}/host/?widget=${encodeURIComponent(widgetURL)}`);
    await p2.waitForSelector("body[data-ready=true]");
    const w2 = await waitFor(() => p2.frames().find((f) => /^http:\/\/widget\.test:/.test(f.url())), "the widget frame");
    await w2.waitForFunction(() => window.widgetReady === true);
    const s2 = await p2.evaluate(() => window.cifHost.client.session);
    await w2.evaluate(async () => {
      const c = JSON.parse(await window.CIF.createRecord("contact", JSON.stringify({ firstname: "Replay", lastname: "Me" })));
      await window.CIF.retrieveRecord("contact", c.id, "?$select=fullname");
      await window.CIF.setWidth(350);
      await window.CIF.getWidth();
      await window.CIF.deleteRecord("contact", c.id);
    });
    await p2.close();
    const file = await waitFor(async () => (await readdir(captureDir)).find((f) => f.includes(s2)), "the capture file of " + s2);
    const text = await waitFor(async () => {
      const t = await readFile(path.join(captureDir, file), "utf8");
      return t.includes("cif.deleterecord") && t;
    }, "the capture's frames");
    await writeFile(artifact("hostpage-capture.jsonl"), text);
    const bin = await buildDaemon();
    const run = promisify(execFile);
    let out;
    try {
      out = await run(bin, ["replay", "--embedded", "--speed", "0", path.join(captureDir, file)], { timeout: 60_000 });
    } catch (err) {
      assert.fail(`cifbridge replay failed (${err.code}):\n${err.stdout}\n${err.stderr}`);
    }
    assert.match(out.stdout + out.stderr, /0 diverged, 0 missing, 0 extra/, out.stdout + out.stderr);
    const frames = text.trimEnd().split("\n").slice(1).map((l) => JSON.parse(l));
    const methods = frames.filter((f) => f.dir === "in" && f.msg.method).map((f) => f.msg.method);
    for (const m of ["bridge.hello", "cif.createrecord", "cif.retrieverecord", "cif.setwidth", "cif.getwidth", "cif.deleterecord"]) {
      assert.ok(methods.includes(m), `${m} captured: ${methods.join(" ")}`);
    }
  });
});

// The same page over https on port 443 (--tls-cert, --tls-key), with a
// token: a self-signed certificate made by Go's generate_cert.go, the widget
// on https://widget.test:<port>, Chromium told to accept the certificate.
describe("host page over https on 443 with a token", { skip: skip || false, timeout: 120_000 }, () => {
  let daemon, pages, browser, page, dir, addr;

  before(async () => {
    addr = "";
    for (const a of ADDRS) {
      if (!(await bindError(a, 443))) {
        addr = a;
        break;
      }
    }
    if (!addr) throw new Error(`port 443 cannot be bound on any of ${ADDRS.join(", ")}`);
    dir = await mkdtemp(path.join(tmpdir(), "cifbridge-host-tls-"));
    const run = promisify(execFile);
    const goroot = (await run("go", ["env", "GOROOT"])).stdout.trim();
    await run("go", ["run", path.join(goroot, "src/crypto/tls/generate_cert.go"), "--host", `${addr},widget.test`], { cwd: dir, timeout: 120_000 });
    const cert = path.join(dir, "cert.pem");
    const key = path.join(dir, "key.pem");
    daemon = await startDaemon(["--listen", addr + ":443", "--tls-cert", cert, "--tls-key", key, "--token", "host-page-secret"]);
    pages = await startPages({ cert: await readFile(cert), key: await readFile(key) });
    const { chromium } = await import("playwright-core");
    browser = await chromium.launch({
      executablePath: chromiumPath,
      args: [...CHROMIUM_ARGS, "--ignore-certificate-errors", "--host-resolver-rules=MAP widget.test 127.0.0.1"],
      timeout: 30_000,
    });
    page = await newPage(browser, { ignoreHTTPSErrors: true });
  }, { timeout: 150_000 });

  after(async () => {
    if (page) assert.deepEqual(page.errors.map(String), []);
    await browser?.close();
    await pages?.close();
    await daemon?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("runs CRUD and getMode over https and wss with the token from ?token=", async () => {
    const base = "https://" + addr;
    const widgetURL = `https://widget.test:${pages.port}/host-widget.html?crmurl=${encodeURIComponent(base)}`;
    await page.goto(`${base}/host/?token=host-page-secret&widget=${encodeURIComponent(widgetURL)}`);
    await page.waitForSelector("body[data-ready=true]");
    assert.match(await page.textContent("[data-testid=conn]"), /^session /);
    const w = await waitFor(() => page.frames().find((f) => /^https:\/\/widget\.test:/.test(f.url())), "the widget frame");
    await w.waitForFunction(() => window.widgetReady === true);
    assert.deepEqual(await w.evaluate(() => window.CIF.domains), [base]);
    const r = await w.evaluate(async () => {
      const c = JSON.parse(await window.CIF.createRecord("contact", JSON.stringify({ firstname: "Tls", lastname: "Person" })));
      const got = JSON.parse(await window.CIF.retrieveRecord("contact", c.id, "?$select=fullname"));
      return { got, mode: await window.CIF.getMode() };
    });
    assert.equal(r.got.fullname, "Tls Person");
    assert.equal(r.mode, 1);
    // The record list came through the Web API with the token too.
    await page.click("[data-testid=nav-contacts]");
    await page.waitForSelector("[data-testid=record-list] >> text=Tls Person");
    // The workspace admin API too: the widget's notifyEvent toast is accepted on the page.
    await w.evaluate(() => {
      window.tlsNotify = window.CIF.notifyEvent({ templateName: "incoming_call", templateParameters: { customer: "Tls" } }).then((v) => JSON.parse(v));
    });
    await page.locator("[data-testid=ws-toast]", { hasText: "Incoming call from Tls" }).locator("[data-testid=ws-accept]").click();
    assert.deepEqual(await w.evaluate(() => window.tlsNotify), { value: { actionName: "Accept", responseReason: "Accept" } });
    assert.equal(await page.textContent("[data-testid=ws-msg]"), "accepted Incoming call from Tls");
  });
});
