// Unit tests of the Microsoft.CIFramework area registry (client/src/cif/).
import { test } from "node:test";
import assert from "node:assert/strict";
import { defineSurface } from "../client/src/cif/surface.js";
import { CIF_AREAS } from "../client/src/cif/index.js";

const fakeClient = { call: async () => null, addHandler() {}, removeHandler() {}, dispatchEvent() {} };

test("every CIF 1.0 and 2.0 method comes from exactly one area", () => {
  const cif = defineSurface(fakeClient, CIF_AREAS);
  const want = [
    "createRecord", "retrieveRecord", "updateRecord", "deleteRecord", "searchAndOpenRecords",
    "getEnvironment", "getEntityMetadata", "openForm", "refreshForm", "renderSearchPage",
    "setClickToAct", "getClickToAct", "setMode", "getMode", "setWidth", "getWidth",
    "addHandler", "removeHandler",
    // CIF 2.0
    "canCreateSession", "createSession", "getAllSessions", "getFocusedSession", "getSession",
    "requestFocusSession", "setSessionTitle", "updateContext",
    "createTab", "focusTab", "getFocusedTab", "getTabs", "refreshTab", "setTabTitle", "closeTab",
    "notifyEvent", "cancelEvent", "notifyKpiBreach", "notifyNewActivity",
    "setPresence", "getPresence", "setAgentPresence", "initializeAgentPresenceList",
    "insertNotes", "updateConversation", "initLogAnalytics", "logAnalyticsEvent", "raiseEvent",
    "isConsoleApp", "openKBSearchControl",
  ];
  assert.deepEqual(Object.keys(cif).sort(), want.sort());
});

test("two areas defining one method is refused", () => {
  const a = () => ({ getMode() {} });
  assert.throws(() => defineSurface(fakeClient, [...CIF_AREAS, a]), /getMode is defined by two areas/);
});

test("an area's send turns a bridge error into CIF's string and keeps the full error", async () => {
  const events = [];
  const err = Object.assign(new Error("boom"), { code: -32001, data: { errorMsg: "boom" } });
  const client = { ...fakeClient, call: async () => Promise.reject(err), dispatchEvent: (e) => events.push(e.type) };
  const cif = defineSurface(client, CIF_AREAS);
  await assert.rejects(cif.getEnvironment(), (s) => typeof s === "string" && JSON.parse(s).value.errorMsg === "boom");
  assert.equal(client.lastError, err);
  assert.deepEqual(events, ["rpcerror"]);
});

test("CIF 2.0 methods send named params and resolve CIF's shapes", async () => {
  const sent = [];
  const results = {
    "cif.notifyEvent": { value: { actionName: "Accept", responseReason: "Accept" } },
    "cif.createTab": "tab-id-3",
    "cif.getPresence": { presenceId: "busy", presenceText: "Busy" },
    "cif.canCreateSession": true,
    "cif.requestFocusSession": null,
  };
  const client = { ...fakeClient, call: async (method, params, opts) => { sent.push({ method, params, opts }); return results[method]; } };
  const cif = defineSurface(client, CIF_AREAS);
  assert.equal(await cif.notifyEvent({ templateName: "incoming_call" }, "corr", "tok"), '{"value":{"actionName":"Accept","responseReason":"Accept"}}');
  assert.deepEqual(sent.at(-1), { method: "cif.notifyEvent", params: { input: { templateName: "incoming_call" }, cancellationToken: "tok" }, opts: { timeoutMs: null } });
  assert.equal(await cif.createTab({ templateName: "contact_tab", appContext: new Map([["etn", "contact"]]), isFocused: true }), "tab-id-3");
  assert.deepEqual(sent.at(-1).params, { input: { templateName: "contact_tab", appContext: { etn: "contact" }, isFocused: true } });
  assert.equal(await cif.getPresence(), '{"presenceId":"busy","presenceText":"Busy"}');
  assert.equal(await cif.canCreateSession(), true);
  assert.equal(await cif.requestFocusSession("session-id-1", 2), undefined);
  assert.deepEqual(sent.at(-1).params, { sessionId: "session-id-1", messagesCount: 2 });
  await cif.insertNotes("contact", "contacts", "c1");
  assert.deepEqual(sent.at(-1).opts, { timeoutMs: null });
});

test("CIF 2.0 validation and host errors reject with {message, msdyn_name}", async () => {
  const err = Object.assign(new Error("x"), { code: -32001, data: { message: "NotificationTemplateNotFoundError", msdyn_name: "NotifyEvent" } });
  const cif = defineSurface({ ...fakeClient, call: async () => Promise.reject(err) }, CIF_AREAS);
  await assert.rejects(cif.notifyEvent({ templateName: "nope" }), (s) => s === '{"message":"NotificationTemplateNotFoundError","msdyn_name":"NotifyEvent"}');
  for (const [call, api] of [
    [() => cif.cancelEvent(""), "cancelEvent"],
    [() => cif.getSession(null), "getSession"],
    [() => cif.closeTab(undefined), "closeTab"],
    [() => cif.notifyNewActivity("s", -1), "notifyNewActivity"],
    [() => cif.createSession(), "createSession"],
  ]) {
    await assert.rejects(call(), (s) => JSON.parse(s).msdyn_name === api && JSON.parse(s).message.length > 0);
  }
});
