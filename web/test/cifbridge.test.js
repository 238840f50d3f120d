import { test } from "node:test";
import assert from "node:assert/strict";
import { connect, install, CifBridgeError, ErrorCode, TIMEOUT_MESSAGE, NO_HANDLER_MESSAGE } from "../client/cifbridge.js";
import { FakeBridge, once, FAST } from "./fakebridge.js";

const GUID = "6f8c2a3e-0000-4000-8000-000000000001";

async function setup(opts = {}) {
  const bridge = new FakeBridge();
  const client = await connect("ws://bridge.test/v1/widget", { WebSocket: bridge.WebSocket, ...FAST, ...opts });
  return { bridge, client, cif: client.CIFramework, api: client.Enreach.API };
}

test("hello: profile, client and session are sent and stored", async () => {
  const { bridge, client } = await setup({ profile: "cif2", client: "softphone/1.2", enreachToken: "tok" });
  const [hello] = bridge.calls("bridge.hello");
  assert.equal(hello.id, 1);
  assert.deepEqual(hello.params, { profile: "cif2", client: "softphone/1.2", enreachToken: "tok" });
  assert.equal(client.session, "s-1");
  assert.equal(client.timeoutMs, 10_000);
  assert.deepEqual(bridge.sockets[0].protocols, ["cifbridge.v1"]);
  client.close();
});

test("createRecord resolves with the JSON string {entityType,id}", async () => {
  const { bridge, client, cif } = await setup();
  bridge.on("cif.createrecord", (p) => ({ entityType: p.entityName, id: GUID }));
  const res = await cif.createRecord("contact", JSON.stringify({ firstname: "Ada" }));
  assert.equal(typeof res, "string");
  assert.equal(res, `{"entityType":"contact","id":"${GUID}"}`);
  const [call] = bridge.calls("cif.createrecord");
  assert.deepEqual(call.params, { entityName: "contact", value: { firstname: "Ada" } });
  assert.equal(typeof call.id, "number");
  client.close();
});

test("retrieveRecord sends queryParameters and resolves with the record as a JSON string", async () => {
  const { bridge, client, cif } = await setup();
  const record = { "@odata.etag": 'W/"1"', contactid: GUID, fullname: "Ada Lovelace" };
  bridge.on("cif.retrieverecord", () => record);
  const res = await cif.retrieveRecord("contact", GUID, "?$select=fullname");
  assert.equal(res, JSON.stringify(record));
  assert.deepEqual(bridge.calls("cif.retrieverecord")[0].params, {
    entityName: "contact",
    entityId: GUID,
    queryParameters: "?$select=fullname",
  });
  client.close();
});

test("update, delete, search, environment, metadata, forms map to their methods with string results", async () => {
  const { bridge, client, cif } = await setup();
  for (const m of ["cif.updaterecord", "cif.deleterecord"]) bridge.on(m, (p) => ({ entityType: p.entityName, id: p.entityId }));
  bridge.on("cif.search", () => ({ 0: { fullname: "Ada" } }));
  bridge.on("cif.searchandopenrecords", () => ({}));
  bridge.on("cif.getenvironment", () => ({ clientUrl: "https://org.crm4.dynamics.com" }));
  bridge.on("cif.getEntityMetadata", (p) => ({ LogicalName: p.entityName }));
  bridge.on("cif.openform", () => ({ savedEntityReference: [] }));
  bridge.on("cif.refreshform", () => ({}));

  assert.equal(await cif.updateRecord("contact", GUID, '{"lastname":"L"}'), `{"entityType":"contact","id":"${GUID}"}`);
  assert.deepEqual(bridge.calls("cif.updaterecord")[0].params, { entityName: "contact", entityId: GUID, value: { lastname: "L" } });
  assert.equal(await cif.deleteRecord("contact", GUID), `{"entityType":"contact","id":"${GUID}"}`);
  assert.equal(await cif.searchAndOpenRecords("contact", "?$filter=x", true), '{"0":{"fullname":"Ada"}}');
  assert.deepEqual(bridge.calls("cif.search")[0].params, { entityName: "contact", queryParameters: "?$filter=x", searchOnly: true });
  assert.equal(await cif.searchAndOpenRecords("contact", "?$filter=x", false), "{}");
  assert.equal(bridge.calls("cif.searchandopenrecords")[0].params.searchOnly, false);
  assert.equal(await cif.getEnvironment(), '{"clientUrl":"https://org.crm4.dynamics.com"}');
  assert.equal(await cif.getEntityMetadata("contact", ["fullname"]), '{"LogicalName":"contact"}');
  assert.deepEqual(bridge.calls("cif.getEntityMetadata")[0].params, { entityName: "contact", attributes: ["fullname"] });
  assert.equal(await cif.openForm('{"entityName":"contact"}'), '{"savedEntityReference":[]}');
  assert.equal(await cif.refreshForm(true), "{}");
  assert.deepEqual(bridge.calls("cif.refreshform")[0].params, { save: true });
  client.close();
});

test("getters resolve plain values, setters resolve undefined", async () => {
  const { bridge, client, cif } = await setup();
  const state = { clicktoact: false, mode: 1, width: 340 };
  bridge.on("cif.setclicktoact", (p) => void (state.clicktoact = p.value));
  bridge.on("cif.getclicktoact", () => state.clicktoact);
  bridge.on("cif.setmode", (p) => void (state.mode = p.value));
  bridge.on("cif.getmode", () => state.mode);
  bridge.on("cif.setwidth", (p) => void (state.width = p.value));
  bridge.on("cif.getwidth", () => state.width);
  bridge.on("cif.renderSearchPage", () => null);

  assert.equal(await cif.setClickToAct(true), undefined);
  assert.equal(await cif.getClickToAct(), true);
  assert.equal(await cif.setMode(0), undefined);
  assert.equal(await cif.getMode(), 0);
  assert.equal(await cif.setWidth(500), undefined);
  assert.equal(await cif.getWidth(), 500);
  assert.equal(await cif.renderSearchPage("contact", "Ada"), undefined);
  assert.deepEqual(bridge.calls("cif.renderSearchPage")[0].params, { entityName: "contact", searchString: "Ada" });
  client.close();
});

test("backend failure (-32001) rejects with the stock CIF string; the full error is kept", async () => {
  const { bridge, client, cif } = await setup();
  const value = {
    errorMsg: "A record with matching key values already exists.",
    sourceFunc: "client.createRecord - Xrm.WebApi.createRecord",
    errorType: 2,
    reportTime: "Mon, 01 Jan 2024 00:00:00 GMT",
  };
  bridge.on("cif.createrecord", () => {
    throw { code: -32001, message: value.errorMsg, data: { dataverseCode: "0x80040237", httpStatus: 412, errorMsg: value.errorMsg, value } };
  });
  const seen = once(client, "rpcerror");
  const err = await cif.createRecord("contact", "{}").then(
    () => assert.fail("resolved"),
    (e) => e,
  );
  assert.equal(typeof err, "string");
  assert.equal(err, JSON.stringify({ value }));
  assert.ok(client.lastError instanceof CifBridgeError);
  assert.equal(client.lastError.code, ErrorCode.Backend);
  assert.equal(client.lastError.data.dataverseCode, "0x80040237");
  assert.equal(client.lastError.data.httpStatus, 412);
  const ev = await seen;
  assert.equal(ev.detail.api, "createRecord");
  assert.equal(ev.detail.method, "cif.createrecord");
  client.close();
});

test("CIF timeout (-32000) rejects with CIF's exact timeout text", async () => {
  const { bridge, client, cif } = await setup();
  bridge.on("cif.createrecord", () => {
    throw { code: -32000, message: TIMEOUT_MESSAGE, data: { message: TIMEOUT_MESSAGE, timeoutMs: 10000, attemptId: "a-1" } };
  });
  const err = await cif.createRecord("contact", "{}").catch((e) => e);
  assert.equal(err, '{"message":"Timeout occurred as no response was received from listener window"}');
  assert.equal(client.lastError.data.attemptId, "a-1");
  client.close();
});

test("client safety timer rejects with the timeout text and ignores the late answer", async () => {
  const { bridge, client, cif } = await setup({ timeoutGraceMs: 10 });
  client.timeoutMs = 20; // as if bridge.hello said so
  let answer;
  bridge.on("cif.getmode", () => new Promise((r) => (answer = r)));
  const err = await cif.getMode().catch((e) => e);
  assert.equal(err, JSON.stringify({ message: TIMEOUT_MESSAGE }));
  assert.equal(client.lastError.data.clientSide, true);
  answer(1); // the late answer matches nothing
  await new Promise((r) => setTimeout(r, 10));
  assert.equal(client._pending.size, 0);
  client.close();
});

test("other bridge errors reject with {message, msdyn_name, code}; invalid params without code", async () => {
  const { bridge, client, cif } = await setup();
  bridge.on("cif.getwidth", () => {
    throw { code: -32003, message: "overloaded: too many calls in flight" };
  });
  bridge.on("cif.getmode", () => {
    throw { code: -32602, message: 'invalid params: "x"' };
  });
  assert.equal(
    await cif.getWidth().catch((e) => e),
    JSON.stringify({ message: "overloaded: too many calls in flight", msdyn_name: "getWidth", code: -32003 }),
  );
  assert.equal(await cif.getMode().catch((e) => e), JSON.stringify({ message: 'invalid params: "x"', msdyn_name: "getMode" }));
  client.close();
});

test("client-side validation rejects as CIF does, without contacting the bridge", async () => {
  const { bridge, client, cif } = await setup();
  const cases = [
    [() => cif.createRecord("", "{}"), "The EntityName parameter is blank. Provide a value to the parameter.", "createRecord"],
    [() => cif.createRecord(undefined, "{}"), "The EntityName parameter is blank. Provide a value to the parameter.", "createRecord"],
    [() => cif.createRecord("contact", null), "Provide a value to the data parameter to create record.", "createRecord"],
    [() => cif.retrieveRecord("contact", ""), "The EntityId parameter is blank. Provide a value to the parameter.", "retrieveRecord"],
    [() => cif.updateRecord("contact", GUID, null), "The data parameter is blank. Provide a value to the parameter to update the record.", "updateRecord"],
    [() => cif.deleteRecord("", GUID), "The EntityName parameter is blank. Provide a value to the parameter.", "deleteRecord"],
    [() => cif.setMode(3), "The setMode paramter value must be 0, 1 or 2.", "setMode"],
    [() => cif.setMode("1"), "The setMode paramter value must be 0, 1 or 2.", "setMode"],
    [() => cif.setWidth(-1), "The setWidth parameter value is invalid. Provide a positive number to the parameter.", "setWidth"],
  ];
  for (const [fn, message, api] of cases) {
    const err = await fn().then(
      () => assert.fail("resolved: " + message),
      (e) => e,
    );
    assert.equal(err, JSON.stringify({ message, msdyn_name: api }));
  }
  assert.equal(bridge.received.length, 1, "only bridge.hello reached the bridge");
  client.close();
});

test("events: handlers get eventData as a JSON string and their result is the answer", async () => {
  const { bridge, client, cif } = await setup();
  const eventData = { value: "+358401234567", name: "mobilephone", format: "phone", entityLogicalName: "contact" };
  let got;
  const handler = async (data) => {
    got = data;
    return { handled: true };
  };
  cif.addHandler("onclicktoact", handler);
  const res = await bridge.request("cif.onclicktoact", { eventData });
  assert.equal(typeof got, "string");
  assert.deepEqual(JSON.parse(got), eventData);
  assert.deepEqual(res.result, { handled: true });

  // A string eventData is passed through unchanged.
  await bridge.request("cif.onclicktoact", { eventData: JSON.stringify(eventData) });
  assert.equal(got, JSON.stringify(eventData));

  // Several handlers: all run, the first registered one answers.
  let secondRan = false;
  const second = () => {
    secondRan = true;
    return "second";
  };
  cif.addHandler("onclicktoact", second);
  const both = await bridge.request("cif.onclicktoact", { eventData });
  assert.deepEqual(both.result, { handled: true });
  assert.ok(secondRan);

  // No handler: CIF's own answer, as a success.
  cif.removeHandler("onclicktoact", handler);
  cif.removeHandler("onclicktoact", second);
  const none = await bridge.request("cif.onclicktoact", { eventData });
  assert.deepEqual(none.result, { message: NO_HANDLER_MESSAGE });

  // A rejecting handler answers an error.
  cif.addHandler("onmodechanged", () => Promise.reject(new Error("busy")));
  const failed = await bridge.request("cif.onmodechanged", { eventData: 1 });
  assert.equal(failed.error.code, -32001);
  assert.deepEqual(failed.error.data.value, { message: "busy" });

  // Not a cif.* request: method not found.
  const unknown = await bridge.request("foo.bar", {});
  assert.equal(unknown.error.code, -32601);
  client.close();
});

test("reconnect: pending calls reject with CONNECTION_LOST, nothing is re-sent, the session resumes", async () => {
  const { bridge, client, cif, api } = await setup();
  bridge.on("cif.createrecord", () => FakeBridge.NO_REPLY);
  bridge.on("enreach.xrm.createRecord", () => FakeBridge.NO_REPLY);
  const cifCreate = cif.createRecord("contact", '{"firstname":"Ada"}').catch((e) => e);
  const xrmCreate = api.Xrm.createRecord("contact", { firstname: "Ada" }).catch((e) => e);
  await new Promise((r) => setTimeout(r, 10));
  assert.equal(bridge.calls("cif.createrecord").length, 1);

  const reopened = once(client, "open");
  bridge.drop();
  const cifErr = await cifCreate;
  assert.equal(cifErr, JSON.stringify({ message: "cifbridge connection lost", msdyn_name: "createRecord", code: "CONNECTION_LOST" }));
  assert.equal(client.lastError.code, ErrorCode.ConnectionLost);
  const xrmErr = await xrmCreate;
  assert.ok(xrmErr instanceof CifBridgeError);
  assert.equal(xrmErr.code, "CONNECTION_LOST");
  assert.equal(xrmErr.message, "cifbridge connection lost");

  const ev = await reopened;
  assert.equal(ev.detail.resumed, true);
  const hellos = bridge.calls("bridge.hello");
  assert.equal(hellos.length, 2);
  assert.equal(hellos[1].params.session, "s-1");
  assert.equal(hellos[1].params.resumeToken, "t-s-1", "the resume carries the session's resume token");
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(bridge.calls("cif.createrecord").length, 1, "create not re-sent");
  assert.equal(bridge.calls("enreach.xrm.createRecord").length, 1, "xrm create not re-sent");
  // Ids keep counting up across connections.
  assert.ok(hellos[1].id > bridge.calls("enreach.xrm.createRecord")[0].id);
  client.close();
});

test("calls made while disconnected wait for the reconnect (never sent before), or fail fast", async () => {
  const { bridge, client, cif } = await setup();
  bridge.on("cif.getmode", () => 1);
  bridge.refuse = true;
  bridge.drop();
  await once(client, "close");
  const waiting = cif.getMode();
  await new Promise((r) => setTimeout(r, 30));
  assert.equal(bridge.calls("cif.getmode").length, 0);
  bridge.refuse = false;
  assert.equal(await waiting, 1);
  client.close();

  const fast = await setup({ offlineWaitMs: 0 });
  fast.bridge.refuse = true;
  fast.bridge.drop();
  await once(fast.client, "close");
  const err = await fast.api.setANumber("+358401234567").catch((e) => e);
  assert.equal(err.code, ErrorCode.NotConnected);
  fast.client.close();
});

test("bridge.late and bridge.ledger are dispatched as events", async () => {
  const { bridge, client } = await setup();
  const late = { requestId: 7, attemptId: "a-7", method: "cif.createrecord", outcome: "success", lateByMs: 1200, result: { entityType: "contact", id: GUID } };
  const gotLate = once(client, "late");
  bridge.push({ jsonrpc: "2.0", method: "bridge.late", params: late });
  assert.deepEqual((await gotLate).detail, late);
  const gotLedger = once(client, "ledger");
  bridge.push({ jsonrpc: "2.0", method: "bridge.ledger", params: { entry: { id: "L1", status: "confirmed" } } });
  assert.deepEqual((await gotLedger).detail, { entry: { id: "L1", status: "confirmed" } });
  client.close();
});

test("Enreach.API maps to enreach.* with Voice for Dynamics defaults and rejects with CifBridgeError", async () => {
  const { bridge, client, api } = await setup();
  bridge.on("enreach.executeQuery", (p) => ({ echo: p }));
  bridge.on("enreach.setANumber", () => ({}));
  bridge.on("enreach.xrm.createRecord", (p) => ({ entityType: p.entityLogicalName, id: GUID, attempts: 1, possibleDuplicate: false }));
  bridge.on("enreach.xrm.updateRecord", (p) => ({ entityType: p.entityLogicalName, id: p.id, attempts: 1, possiblyReapplied: false }));
  bridge.on("enreach.xrm.retrieveRecord", () => ({ fullname: "Ada" }));
  bridge.on("enreach.xrm.execute", () => ({ UserId: GUID }));

  assert.deepEqual(await api.executeQuery("/users/me"), { echo: { query: "/users/me" } });
  assert.deepEqual(await api.executeQuery("/calls", { a: 1 }, "PUT"), { echo: { query: "/calls", postData: { a: 1 }, method: "PUT" } });
  await api.setANumber("+35810");
  assert.deepEqual(bridge.calls("enreach.setANumber")[0].params, { aNumber: "+35810" });

  const created = await api.Xrm.createRecord("phonecall", { subject: "Call" });
  assert.deepEqual(created, { entityType: "phonecall", id: GUID, attempts: 1, possibleDuplicate: false });
  assert.deepEqual(bridge.calls("enreach.xrm.createRecord")[0].params, { entityLogicalName: "phonecall", data: { subject: "Call" }, maxRetries: 3, delay: 1000 });
  await api.Xrm.createRecord("phonecall", {}, 0, 50, { idempotent: true });
  assert.deepEqual(bridge.calls("enreach.xrm.createRecord")[1].params, { entityLogicalName: "phonecall", data: {}, maxRetries: 0, delay: 50, idempotent: true });
  await api.Xrm.updateRecord("phonecall", GUID, { statecode: 1 });
  assert.deepEqual(bridge.calls("enreach.xrm.updateRecord")[0].params, { entityLogicalName: "phonecall", id: GUID, data: { statecode: 1 }, maxRetries: 3, delay: 1000 });
  assert.deepEqual(await api.Xrm.retrieveRecord("contact", GUID, "?$select=fullname", 1, 10), { fullname: "Ada" });
  assert.deepEqual(bridge.calls("enreach.xrm.retrieveRecord")[0].params, { entityLogicalName: "contact", id: GUID, options: "?$select=fullname", maxRetries: 1, delay: 10 });
  const metaData = { operationType: 1, operationName: "WhoAmI" };
  assert.deepEqual(await api.Xrm.execute(null, metaData), { UserId: GUID });
  assert.deepEqual(bridge.calls("enreach.xrm.execute")[0].params, { metaData });

  bridge.on("enreach.xrm.createRecord", () => {
    throw { code: -32005, message: "retries exhausted", data: { attempts: [{ outcome: "timeout" }] } };
  });
  const err = await api.Xrm.createRecord("phonecall", {}).catch((e) => e);
  assert.ok(err instanceof CifBridgeError);
  assert.equal(err.code, ErrorCode.RetriesExhausted);
  assert.equal(err.method, "enreach.xrm.createRecord");
  assert.deepEqual(err.data.attempts, [{ outcome: "timeout" }]);
  client.close();
});

test("install sets Microsoft.CIFramework and Enreach.API, fires CIFInitDone and window events", async () => {
  const bridge = new FakeBridge();
  const win = new EventTarget();
  win.location = { href: "http://localhost:8787/examples/softphone.html" };
  const init = once(win, "CIFInitDone");
  const client = await install({ url: "ws://localhost:8787/v1/widget", window: win, WebSocket: bridge.WebSocket, ...FAST });
  assert.equal(win.Microsoft.CIFramework, client.CIFramework);
  assert.equal(win.Enreach.API, client.Enreach.API);
  assert.deepEqual((await init).detail, ["http://localhost"]);
  const late = once(win, "cifbridge:late");
  bridge.push({ jsonrpc: "2.0", method: "bridge.late", params: { requestId: 3 } });
  assert.deepEqual((await late).detail, { requestId: 3 });
  client.close();
});

test("connect rejects when the bridge refuses the hello", async () => {
  const bridge = new FakeBridge();
  bridge.on("bridge.hello", () => {
    throw { code: -32004, message: "unauthorized" };
  });
  const err = await connect("ws://x", { WebSocket: bridge.WebSocket, ...FAST }).catch((e) => e);
  assert.ok(err instanceof CifBridgeError);
  assert.equal(err.code, ErrorCode.Unauthorized);
});

test("connect gives up after maxRetries", async () => {
  const bridge = new FakeBridge();
  bridge.refuse = true;
  const err = await connect("ws://x/v1/widget?access_token=secret", { WebSocket: bridge.WebSocket, ...FAST, maxRetries: 2 }).catch((e) => e);
  assert.equal(err.code, ErrorCode.NotConnected);
  assert.equal(bridge.sockets.length, 3);
  // A refused upgrade (wrong token) looks like an unreachable daemon: the message says what to check, without the token.
  assert.match(err.message, /gave up after 2 retries \(never reached cifbridge at ws:\/\/x\/v1\/widget\?access_token=redacted: is the daemon running, and the token right\?\)/);
  assert.doesNotMatch(err.message, /secret/);
});

test("an unanswered hello drops the socket and reconnects", async () => {
  const bridge = new FakeBridge();
  let first = true;
  const hello = bridge.handlers.get("bridge.hello");
  bridge.on("bridge.hello", (p, m, s) => {
    if (first) {
      first = false;
      return FakeBridge.NO_REPLY;
    }
    return hello(p, m, s);
  });
  const client = await connect("ws://x", { WebSocket: bridge.WebSocket, ...FAST, connectionTimeout: 30, timeoutGraceMs: 10 });
  assert.equal(bridge.sockets.length, 2);
  assert.equal(client.session, "s-1");
  client.close();
});

test("an unreachable bridge is reported within connectTimeoutMs: ready rejects, giveup fires, no more attempts", async () => {
  const bridge = new FakeBridge();
  bridge.refuse = true;
  const client = new (await import("../client/cifbridge.js")).Client("ws://down.test/v1/widget?access_token=secret", {
    WebSocket: bridge.WebSocket,
    ...FAST,
    connectTimeoutMs: 100,
  });
  const gaveUp = once(client, "giveup");
  const started = Date.now();
  client._start();
  const err = await client.ready().catch((e) => e);
  assert.ok(Date.now() - started < 1000, "gave up late");
  assert.ok(err instanceof CifBridgeError);
  assert.equal(err.code, ErrorCode.NotConnected);
  assert.match(err.message, /^cannot reach cifbridge at ws:\/\/down\.test\/v1\/widget\?access_token=redacted within 100 ms \(\d+ attempts?;/);
  assert.doesNotMatch(err.message, /secret/);
  assert.equal((await gaveUp).detail.error, err);
  const attempts = bridge.sockets.length;
  await new Promise((r) => setTimeout(r, 60));
  assert.equal(bridge.sockets.length, attempts, "still reconnecting after giving up");
  assert.equal(client.connected, false);
});

test("connectTimeoutMs bounds only the first connection; later drops reconnect", async () => {
  const { bridge, client } = await setup({ connectTimeoutMs: 50 });
  await new Promise((r) => setTimeout(r, 80));
  const reopened = once(client, "open");
  bridge.drop();
  await reopened;
  assert.equal(client.connected, true);
  client.close();
});

test("token goes in the URL as access_token (a browser WebSocket cannot send headers)", async () => {
  const { bridge, client } = await setup({ token: "s3 cret&x" });
  assert.equal(new URL(bridge.sockets[0].url).searchParams.get("access_token"), "s3 cret&x");
  client.close();
});

test("resumeToken from bridge.hello is sent back when resuming, and only then", async () => {
  const bridge = new FakeBridge();
  const hello = bridge.handlers.get("bridge.hello");
  bridge.on("bridge.hello", (p, m, s) => ({ ...hello(p, m, s), resumeToken: "rt-" + bridge.calls("bridge.hello").length }));
  const client = await connect("ws://x", { WebSocket: bridge.WebSocket, ...FAST });
  assert.equal(client.resumeToken, "rt-1");
  const reopened = once(client, "open");
  bridge.drop();
  await reopened;
  const hellos = bridge.calls("bridge.hello");
  assert.equal(hellos[0].params.resumeToken, undefined);
  assert.equal(hellos[1].params.session, "s-1");
  assert.equal(hellos[1].params.resumeToken, "rt-1");
  assert.equal(client.resumeToken, "rt-2", "a fresh token replaces the used one");
  client.close();
});

test("a resume refused with -32004 (not our session) starts a new session: sessionlost", async () => {
  const bridge = new FakeBridge();
  const hello = bridge.handlers.get("bridge.hello");
  bridge.on("bridge.hello", (p, m, s) => {
    if (p.session && p.resumeToken !== "rt-ok") throw { code: -32004, message: `session ${p.session} is not yours to resume` };
    return hello(p, m, s);
  });
  const client = await connect("ws://x", { WebSocket: bridge.WebSocket, ...FAST, session: "s-old", resumeToken: "stale" });
  const hellos = bridge.calls("bridge.hello");
  assert.equal(hellos.length, 2);
  assert.deepEqual([hellos[0].params.session, hellos[0].params.resumeToken], ["s-old", "stale"]);
  assert.equal(hellos[1].params.session, undefined, "the second hello starts a new session");
  assert.equal(hellos[1].params.resumeToken, undefined);
  assert.equal(client.session, "s-1");
  client.close();
});

test("close 4001 (the session moved to another connection) stops the client: no reconnect, giveup", async () => {
  const { bridge, client } = await setup();
  const gaveUp = once(client, "giveup");
  bridge.drop(4001);
  const ev = await gaveUp;
  assert.equal(ev.detail.error.code, ErrorCode.NotConnected);
  assert.match(ev.detail.error.message, /session s-1 moved to another connection \(close 4001\)/);
  await new Promise((r) => setTimeout(r, 60));
  assert.equal(bridge.sockets.length, 1, "no reconnect");
  assert.equal(bridge.calls("bridge.hello").length, 1);
  const err = await client.call("cif.getmode").catch((e) => e);
  assert.equal(err.code, ErrorCode.NotConnected);
});
