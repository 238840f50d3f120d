// recorder.js in headless Chromium, in the setting it is made for: a widget
// iframe talking raw CIF postMessage to a (fake) Dynamics main window. The
// pages come from web/ through Playwright's request routing under a made-up
// origin, so no server is needed. The export must parse as the capture
// format of DESIGN §8 (protocol/capture.go) with both directions recorded,
// and the page's own messages must be untouched.

import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";

import { skipReason, launchBrowser, newPage } from "./harness.js";

const webDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const ORIGIN = "http://dynamics.test";
const TYPES = { ".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8" };

describe("recorder in Chromium", { skip: skipReason || false, timeout: 60_000 }, () => {
  let browser, page;

  before(async () => {
    browser = await launchBrowser();
    page = await newPage(browser, { acceptDownloads: true });
    await page.route(ORIGIN + "/**", async (route) => {
      const rel = decodeURIComponent(new URL(route.request().url()).pathname);
      const file = path.join(webDir, path.normalize(rel));
      if (!file.startsWith(webDir + path.sep)) return route.fulfill({ status: 403 });
      try {
        const body = await readFile(file);
        await route.fulfill({ status: 200, body, contentType: TYPES[path.extname(file)] || "application/octet-stream" });
      } catch {
        await route.fulfill({ status: 404, body: "not found" });
      }
    });
    await page.goto(ORIGIN + "/test/browser/pages/cif-host.html");
    await page.frameLocator("#widget").locator("body").waitFor({ state: "attached" });
    const frame = page.frame({ url: /cif-widget\.html$/ });
    await frame.waitForFunction(() => window.widgetReady === true);
  }, { timeout: 45_000 });

  after(async () => {
    if (page) assert.deepEqual(page.errors.map(String), []);
    await browser?.close();
  });

  it("exports both directions of the postMessage channel as a capture file", { timeout: 30_000 }, async () => {
    const frame = page.frame({ url: /cif-widget\.html$/ });
    // widget → main window: a createrecord request; main → widget: its answer.
    const answer = await frame.evaluate(async () => {
      const a = await window.cifRequest("createrecord", { entityName: "contact", value: JSON.stringify({ lastname: "Hopper" }) });
      return { outcome: a.messageOutcome, isMap: a.messageData instanceof Map, value: a.messageData.get("value") };
    });
    assert.deepEqual(answer, {
      outcome: "success",
      isMap: true,
      value: JSON.stringify({ entityType: "contact", id: "4a5e2f2e-1c3b-4e8f-9a7d-2b6c8d9e0f11" }),
    }, "the widget's own listener gets the envelope unchanged (messageData is still a Map)");
    // main → widget: an event; widget → main: its answer.
    const ev = await page.evaluate(() => window.raiseEvent("onclicktoact", { value: "+358403333333", name: "mobilephone", format: "phone", entityLogicalName: "contact" }));
    assert.equal(ev.messageOutcome, "success");

    // Nothing the page uses was patched (Window is a [Global] interface, so
    // postMessage lives on the window itself: check it is still native).
    const untouched = await frame.evaluate(() => {
      const native = (f) => typeof f === "function" && /\{\s*\[native code\]\s*\}$/.test(Function.prototype.toString.call(f));
      return {
        topPostMessage: native(window.top.postMessage),
        ownPostMessage: native(window.postMessage),
        addEventListener: window.addEventListener === EventTarget.prototype.addEventListener,
        topAddEventListener: window.top.addEventListener === window.top.EventTarget.prototype.addEventListener,
      };
    });
    assert.deepEqual(untouched, { topPostMessage: true, ownPostMessage: true, addEventListener: true, topAddEventListener: true });

    const text = await frame.evaluate(() => window.recorder.export());
    assert.ok(text.endsWith("\n"), "JSONL ends with a newline");
    const lines = text.trimEnd().split("\n").map((l) => JSON.parse(l));
    const [header, ...frames] = lines;

    // The header: protocol.CaptureHeader.
    assert.equal(header.format, "cifbridge-capture");
    assert.equal(header.version, 1);
    assert.equal(header.profile, "cif1");
    assert.equal(header.timeoutMs, 10000);
    assert.equal(header.session, "rec-browser-test");
    assert.equal(header.source, "postmessage");
    assert.match(header.bridge, /^recorder\//);
    assert.ok(!isNaN(Date.parse(header.started)), "started is a time");

    // The frames: protocol.CaptureFrame, in time order, both directions.
    assert.equal(frames.length, 4, JSON.stringify(frames, null, 1));
    let last = Date.parse(header.started);
    for (const f of frames) {
      assert.deepEqual(Object.keys(f).sort(), ["dir", "msg", "peer", "session", "t"]);
      assert.equal(f.session, header.session);
      assert.equal(f.peer, "widget");
      assert.ok(f.dir === "in" || f.dir === "out");
      const t = Date.parse(f.t);
      assert.ok(!isNaN(t) && t >= last, "frame times are RFC 3339 and non-decreasing");
      last = t;
    }
    assert.deepEqual(
      frames.map((f) => [f.dir, f.msg.messageType || f.msg.messageOutcome]),
      [
        ["in", "createrecord"],
        ["out", "success"],
        ["out", "onclicktoact"],
        ["in", "success"],
      ],
    );
    // Correlation ids pair requests with answers; Maps became plain objects.
    assert.equal(frames[0].msg.messageCorrelationId, frames[1].msg.messageCorrelationId);
    assert.equal(frames[2].msg.messageCorrelationId, frames[3].msg.messageCorrelationId);
    assert.deepEqual(frames[0].msg.messageData, { entityName: "contact", value: JSON.stringify({ lastname: "Hopper" }) });
    assert.equal(typeof frames[1].msg.messageData.value, "string");
    assert.equal(JSON.parse(frames[2].msg.messageData.value).value, "+358403333333");

    // download() saves the same text.
    const [download] = await Promise.all([page.waitForEvent("download"), frame.evaluate(() => window.recorder.download())]);
    assert.equal(download.suggestedFilename(), "cifbridge-rec-browser-test.jsonl");
    const saved = await readFile(await download.path(), "utf8");
    assert.equal(saved, text);
  });
});
