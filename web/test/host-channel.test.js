// Unit tests of web/host/channel.js: the host page's view of CIF's
// postMessage channel (Maps, envelopes, trusted domains, message types).

import { test } from "node:test";
import assert from "node:assert/strict";

import {
  toPlain, toMap, requestParams, successEnvelope, failureEnvelope, errorData, originTrusted, reduceOrigin,
  canonicalType, correlationId, isNoHandler, paramsFor, TIMEOUT_MESSAGE, CIF_CALLS, NO_TIMER, KNOWN_EVENTS,
  widgetLocation,
} from "../host/channel.js";
import { CifBridgeError, ErrorCode } from "../client/cifbridge.js";
import { readFileSync } from "node:fs";

const repo = new URL("../../", import.meta.url);

test("toPlain turns nested Maps into objects and drops undefined members", () => {
  const m = new Map([["entityName", "contact"], ["value", new Map([["firstname", "Ada"], ["address", new Map([["city", "Oulu"]])], ["tags", [new Map([["a", 1]])]]])], ["correlationId", undefined]]);
  assert.deepEqual(toPlain(m), { entityName: "contact", value: { firstname: "Ada", address: { city: "Oulu" }, tags: [{ a: 1 }] } });
  assert.equal(toPlain("x"), "x");
  assert.equal(toPlain(null), null);
});

test("toMap makes a Map of an object's own members, one level deep", () => {
  const m = toMap({ entityType: "contact", id: "1", nested: { a: 1 } });
  assert.ok(m instanceof Map);
  assert.equal(m.get("id"), "1");
  assert.deepEqual(m.get("nested"), { a: 1 }, "member values stay plain");
  assert.equal(toMap(3), 3);
  assert.equal(toMap(false), false);
  assert.deepEqual(toMap([1]), [1]);
});

test("requestParams follows the envelope mapping and leaves out the telemetry correlationId", () => {
  assert.deepEqual(requestParams(new Map([["entityName", "contact"], ["entityId", "x"], ["correlationId", "abc"]])), { entityName: "contact", entityId: "x" });
  assert.deepEqual(requestParams('{"entityName":"contact"}'), { entityName: "contact" });
  assert.deepEqual(requestParams(undefined), {});
  assert.deepEqual(requestParams(null), {});
  assert.deepEqual(requestParams(2), { value: 2 });
  assert.deepEqual(requestParams("plain"), { value: "plain" });
});

test("paramsFor keeps the members the bridge takes and names the others", () => {
  const data = new Map([["entityName", "contact"], ["queryParameters", "?$top=1"], ["searchOnly", false], ["searchType", 1], ["correlationId", "c1"]]);
  assert.deepEqual(paramsFor("searchandopenrecords", data), { params: { entityName: "contact", queryParameters: "?$top=1", searchOnly: false }, dropped: ["searchType"] });
  const create = paramsFor("createrecord", new Map([["entityName", "contact"], ["value", new Map([["a", new Map([["b", 1]])]])]]));
  assert.deepEqual(create, { params: { entityName: "contact", value: { a: { b: 1 } } }, dropped: [] });
  // Calls without a strict params struct go as they are.
  assert.deepEqual(paramsFor("openform", new Map([["entityFormOptions", "{}"], ["extra", 1]])), { params: { entityFormOptions: "{}", extra: 1 }, dropped: [] });
});

// Microsoft's library (Widget/MainLibrary.ts) posts notifyEvent's input
// members at the top of messageData and getTabs' name as "msdyn_name".
test("paramsFor takes notifyEvent and getTabs as Microsoft's library posts them", () => {
  const notify = new Map([
    ["eventType", undefined], ["correlationId", "c1"], ["templateName", "incoming_call"],
    ["templateParameters", { customer: "Ada" }], ["templateNameResolver", undefined],
    ["notificationUXObject", new Map([["title", "x"]])], ["cancellationToken", "tok-1"],
  ]);
  assert.deepEqual(paramsFor("notifyEvent", notify), {
    params: { cancellationToken: "tok-1", input: { templateName: "incoming_call", templateParameters: { customer: "Ada" }, notificationUXObject: { title: "x" } } },
    dropped: [],
  });
  // The bridge's own shape goes as it is.
  const wrapped = new Map([["input", new Map([["templateName", "incoming_call"]])], ["cancellationToken", "t"]]);
  assert.deepEqual(paramsFor("notifyEvent", wrapped), { params: { input: { templateName: "incoming_call" }, cancellationToken: "t" }, dropped: [] });
  const tabs = new Map([["templateTag", "record"], ["msdyn_name", "contact_tab"], ["correlationId", undefined]]);
  assert.deepEqual(paramsFor("getTabsByTagOrName", tabs), { params: { templateTag: "record", templateName: "contact_tab" }, dropped: [] });
  assert.deepEqual(paramsFor("getTabsByTagOrName", new Map([["templateName", "a"], ["templateTag", "b"]])), { params: { templateName: "a", templateTag: "b" }, dropped: [] });
  const conv = new Map([["entityName", "msdyn_ocliveworkitem"], ["entityId", "conv-1"], ["value", new Map([["msdyn_customer", "Ada"]])], ["correlationId", undefined]]);
  assert.deepEqual(paramsFor("updateConversation", conv), { params: { id: "conv-1", data: { msdyn_customer: "Ada" } }, dropped: [] });
});

// The library resolves notifyEvent and insertNotes with
// JSON.stringify(buildEntity(value)), which needs value to be a Map.
test("notifyEvent's and insertNotes' results are Maps, as CIF's host builds them", () => {
  const n = successEnvelope("n1", { value: { actionName: "Accept", responseReason: "Accept" } }, "notifyEvent");
  assert.ok(n.messageData.get("value") instanceof Map);
  assert.deepEqual(Object.fromEntries(n.messageData.get("value")), { value: { actionName: "Accept", responseReason: "Accept" } });
  const notes = successEnvelope("n2", { entityName: "phonecall", entityId: "1", annotationId: "2" }, "insertNotes");
  assert.ok(notes.messageData.get("value") instanceof Map);
  assert.equal(notes.messageData.get("value").get("annotationId"), "2");
});

test("envelopes are built the way CIF's host builds them, with CIF_Response", () => {
  const ok = successEnvelope("ab12c", { entityType: "contact", id: "1" }, "createrecord");
  assert.equal(ok.messageOutcome, "success");
  assert.equal(ok.messageType, "CIF_Response");
  assert.equal(ok.messageCorrelationId, "ab12c");
  assert.ok(ok.messageData instanceof Map);
  assert.ok(ok.messageData.get("value") instanceof Map, "create's LookupValue is a Map");
  assert.equal(ok.messageData.get("value").get("id"), "1");
  const rec = successEnvelope("x", { fullname: "Ada", parentcustomerid: { id: "2" } }, "retrieverecord");
  assert.ok(rec.messageData.get("value") instanceof Map, "a retrieved record is a Map, as the real host's buildMap makes it");
  assert.deepEqual(Object.fromEntries(rec.messageData.get("value")), { fullname: "Ada", parentcustomerid: { id: "2" } }, "one level: nested values stay plain");
  for (const type of ["search", "searchandopenrecords", "getenvironment", "updateConversation"]) {
    assert.ok(successEnvelope("x", { 0: { fullname: "Ada" } }, type).messageData.get("value") instanceof Map, type);
  }
  assert.deepEqual(successEnvelope("x", { savedEntityReference: [] }, "openform").messageData.get("value"), { savedEntityReference: [] }, "openForm's result stays plain: the library stringifies it as it is");
  assert.equal(successEnvelope("x", 0, "getmode").messageData.get("value"), 0);
  assert.equal(successEnvelope("x", null, "setmode").messageData.get("value"), null);
  const bad = failureEnvelope("x", { value: { errorMsg: "m", errorType: 2 } });
  assert.equal(bad.messageOutcome, "failure");
  assert.ok(bad.messageData instanceof Map);
  assert.deepEqual(bad.messageData.get("value"), { errorMsg: "m", errorType: 2 }, "IErrorHandler stays a plain object");
});

test("errorData builds CIF's error shapes from bridge errors", () => {
  assert.deepEqual(errorData(new CifBridgeError(ErrorCode.Timeout, TIMEOUT_MESSAGE), "createRecord"), { message: TIMEOUT_MESSAGE });
  const value = { errorMsg: "Contact With Id = 1 Does Not Exist", sourceFunc: "x", errorType: 2, reportTime: "t" };
  assert.deepEqual(errorData(new CifBridgeError(ErrorCode.Backend, "x", { value }), "retrieveRecord"), { value });
  const built = errorData(new CifBridgeError(ErrorCode.Backend, "boom", { errorMsg: "boom" }), "retrieveRecord");
  assert.equal(built.value.errorMsg, "boom");
  assert.equal(built.value.errorType, 2);
  assert.equal(built.value.sourceFunc, "retrieveRecord");
  assert.deepEqual(errorData(new CifBridgeError(ErrorCode.InvalidParams, "\"entityName\" is blank"), "createRecord"), { message: "\"entityName\" is blank", msdyn_name: "createRecord" });
  assert.equal(isNoHandler(new CifBridgeError(ErrorCode.MethodNotFound, "x")), true);
  assert.equal(isNoHandler(new CifBridgeError(ErrorCode.Backend, "x")), false);
});

test("trusted domains: protocol//hostname, port dropped, compared by hostname", () => {
  assert.equal(reduceOrigin("http://127.0.0.1:8787/x?y"), "http://127.0.0.1");
  assert.equal(reduceOrigin("https://org.crm4.dynamics.com"), "https://org.crm4.dynamics.com");
  assert.equal(reduceOrigin("not a url"), "");
  const trusted = ["http://widget.test", "https://*.contoso.com"];
  assert.equal(originTrusted("http://widget.test:5173", trusted), true, "any port");
  assert.equal(originTrusted("https://widget.test", trusted), true, "the protocol is not compared");
  assert.equal(originTrusted("https://a.b.contoso.com", trusted), true, "wildcard by suffix");
  assert.equal(originTrusted("https://contoso.com.evil.test", trusted), false);
  assert.equal(originTrusted("https://evilcontoso.com", trusted), false);
  assert.equal(originTrusted("http://evil.test:5173", trusted), false);
  assert.equal(originTrusted("null", trusted), false);
  assert.equal(originTrusted("*", trusted), false);
  assert.equal(originTrusted("", trusted), false);
});

test("message types: the bridge's spelling, case-insensitive; unknown ones have no handler", () => {
  assert.equal(canonicalType("createRecord"), "createrecord");
  assert.equal(canonicalType("getentitymetadata"), "getEntityMetadata");
  assert.equal(canonicalType("RENDERSEARCHPAGE"), "renderSearchPage");
  assert.equal(canonicalType("nosuchcall"), null);
  assert.equal(canonicalType(undefined), null);
  assert.ok(NO_TIMER.has("openform"));
  assert.equal(CIF_CALLS.search, "searchAndOpenRecords");
});

test("correlation ids look like the library's: short base-36", () => {
  for (let i = 0; i < 200; i++) {
    const id = correlationId();
    assert.match(id, /^[0-9a-z]{4,6}$/, id);
  }
});

test("the relay's tables follow the Go side (protocol/methods.go, protocol/cif2.go)", () => {
  const methods = readFileSync(new URL("protocol/methods.go", repo), "utf8");
  const cif2 = readFileSync(new URL("protocol/cif2.go", repo), "utf8");
  const goCalls = new Set(
    [methods, cif2].flatMap((src) => [...src.matchAll(/^\s*Method\w+\s*=\s*"cif\.(\w+)"/gm)].map((m) => m[1])),
  );
  assert.ok(goCalls.size > 30, `parsed ${goCalls.size} Go methods`);
  assert.deepEqual([...goCalls].sort(), Object.keys(CIF_CALLS).sort());
  const events = methods.match(/KnownEvents = \[\]string\{([^}]*)\}/)[1].match(/"(\w+)"/g).map((q) => q.slice(1, -1));
  assert.deepEqual([...KNOWN_EVENTS], events);
});

// A javascript: widget URL in the panel's src would run in the host page's
// own origin (the daemon's): only http(s) widgets are loaded.
test("widgetLocation takes http(s) widget URLs only", () => {
  const base = "http://127.0.0.1/host/?widget=x";
  assert.equal(widgetLocation("http://127.0.0.1:5173/widget.html", base).href, "http://127.0.0.1:5173/widget.html");
  assert.equal(widgetLocation("https://widgets.example.com/w", base).origin, "https://widgets.example.com");
  assert.equal(widgetLocation("/examples/softphone.html", base).href, "http://127.0.0.1/examples/softphone.html", "relative to the page");
  for (const bad of ["javascript:alert(document.domain)", " JavaScript:alert(1)", "data:text/html,<b>x</b>", "blob:http://127.0.0.1/x", "file:///etc/passwd"]) {
    assert.throws(() => widgetLocation(bad, base), /not an http or https URL/, bad);
  }
  assert.throws(() => widgetLocation("http://[::1", base), /is not a URL/);
});
