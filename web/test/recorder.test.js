import { test } from "node:test";
import assert from "node:assert/strict";
import { createRecorder, mergeCaptures, toPlain } from "../client/recorder.js";

function message(data, source) {
  const ev = new Event("message");
  Object.defineProperty(ev, "data", { value: data });
  Object.defineProperty(ev, "source", { value: source ?? null });
  return ev;
}

// A widget window inside a cross-origin main window.
function widgetWindow() {
  const top = new EventTarget();
  top.location = {
    get href() {
      throw new Error("SecurityError: cross-origin");
    },
  };
  top.posted = [];
  top.postMessage = (m, o) => top.posted.push([m, o]);
  const win = new EventTarget();
  win.top = top;
  return { win, top };
}

let clock = Date.parse("2025-05-01T12:00:00.000Z");
const now = () => new Date((clock += 7));

test("widget side: main → widget via a passive capture listener; opt-in wrapper for widget → main", () => {
  const { win, top } = widgetWindow();
  const rec = createRecorder({ window: win, session: "rec-1", now });
  assert.equal(rec.side, "widget");

  // The page's own listener still sees everything, unchanged.
  const seenByPage = [];
  win.addEventListener("message", (ev) => seenByPage.push(ev.data));

  const request = {
    messageType: "createrecord",
    messageData: new Map([["entityName", "contact"], ["value", new Map([["firstname", "Ada"], ["tags", new Set(["a"])]])]]),
    messageCorrelationId: "k3x9a",
  };
  const wrapped = rec.wrapPostMessage(top);
  wrapped.postMessage(request, "https://org.crm4.dynamics.com");
  assert.equal(top.posted.length, 1);
  assert.equal(top.posted[0][0], request, "the real postMessage got the very same object");

  const answer = {
    messageOutcome: "success",
    messageData: new Map([["value", new Map([["entityType", "contact"], ["id", "6f8c"]])]]),
    messageCorrelationId: "k3x9a",
  };
  win.dispatchEvent(message(answer, top));
  const event = { messageType: "onclicktoact", messageData: '{"value":"+358401234567"}', messageCorrelationId: "e1" };
  win.dispatchEvent(message(event, top));
  win.dispatchEvent(message({ not: "cif" }, top)); // ignored
  win.dispatchEvent(message("a string", top)); // ignored
  assert.equal(seenByPage.length, 4);

  const lines = rec.export().split("\n");
  assert.equal(lines.at(-1), "", "newline-terminated");
  const parsed = lines.filter(Boolean).map((l) => JSON.parse(l));
  const [header, ...frames] = parsed;
  assert.deepEqual(Object.keys(header), ["format", "version", "bridge", "profile", "timeoutMs", "started", "session", "source"]);
  assert.deepEqual(header, {
    format: "cifbridge-capture",
    version: 1,
    bridge: "recorder/0.1.0",
    profile: "cif1",
    timeoutMs: 10000,
    started: "2025-05-01T12:00:00.007Z",
    session: "rec-1",
    source: "postmessage",
  });
  assert.equal(frames.length, 3);
  for (const f of frames) {
    assert.deepEqual(Object.keys(f), ["t", "session", "peer", "dir", "msg"]);
    assert.match(f.t, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.equal(f.session, "rec-1");
    assert.equal(f.peer, "widget");
  }
  assert.deepEqual(frames.map((f) => f.dir), ["in", "out", "out"]);
  assert.deepEqual(frames[0].msg, {
    messageType: "createrecord",
    messageData: { entityName: "contact", value: { firstname: "Ada", tags: ["a"] } },
    messageCorrelationId: "k3x9a",
  });
  assert.deepEqual(frames[1].msg.messageData, { value: { entityType: "contact", id: "6f8c" } });
  assert.equal(frames[2].msg.messageData, '{"value":"+358401234567"}');

  rec.stop();
  win.dispatchEvent(message(answer, top));
  assert.equal(rec.frames.length, 3);
});

test("widget side with a same-origin main window records both directions passively", () => {
  const top = new EventTarget();
  top.location = { href: "http://localhost:8787/" };
  const win = new EventTarget();
  win.top = top;
  const other = new EventTarget();
  const rec = createRecorder({ window: win, profile: "cif2", now });
  assert.equal(rec.header().timeoutMs, 100000);
  top.dispatchEvent(message({ messageType: "getmode", messageCorrelationId: "a" }, win));
  top.dispatchEvent(message({ messageType: "getmode", messageCorrelationId: "b" }, other)); // another widget
  win.dispatchEvent(message({ messageOutcome: "success", messageData: new Map([["value", 1]]), messageCorrelationId: "a" }, top));
  assert.deepEqual(rec.frames.map((f) => [f.dir, f.msg.messageCorrelationId]), [["in", "a"], ["out", "a"]]);
});

test("main side records what widgets post as dir in; mergeCaptures joins both sides by time", () => {
  const main = new EventTarget();
  main.top = main;
  const { win, top } = widgetWindow();
  const mainRec = createRecorder({ window: main, session: "rec-main", now });
  const widgetRec = createRecorder({ window: win, session: "rec-w", now });
  assert.equal(mainRec.side, "main");
  main.dispatchEvent(message({ messageType: "getwidth", messageCorrelationId: "w1" }, win));
  win.dispatchEvent(message({ messageOutcome: "success", messageData: new Map([["value", 340]]), messageCorrelationId: "w1" }, top));

  const merged = mergeCaptures(widgetRec.export(), mainRec.export());
  const [header, ...frames] = merged.trim().split("\n").map((l) => JSON.parse(l));
  assert.equal(header.session, "rec-w");
  assert.ok(header.started <= frames[0].t);
  assert.deepEqual(frames.map((f) => [f.dir, f.session]), [["in", "rec-w"], ["out", "rec-w"]]);
  assert.deepEqual(frames[1].msg.messageData, { value: 340 });
});

test("toPlain converts nested Maps and drops what JSON cannot hold", () => {
  const cyclic = { a: 1 };
  cyclic.self = cyclic;
  assert.deepEqual(
    toPlain(new Map([["m", new Map([[1, [new Map([["x", undefined]]), () => 1]]])], ["d", new Date(0)], ["c", cyclic]])),
    { m: { 1: [{}, null] }, d: "1970-01-01T00:00:00.000Z", c: { a: 1, self: "[Circular]" } },
  );
});

test("maxFrames bounds memory", () => {
  const { win, top } = widgetWindow();
  const rec = createRecorder({ window: win, maxFrames: 2, now });
  for (let i = 0; i < 5; i++) win.dispatchEvent(message({ messageType: "getmode", messageCorrelationId: String(i) }, top));
  assert.equal(rec.frames.length, 2);
  assert.equal(rec.dropped, 3);
});
