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
