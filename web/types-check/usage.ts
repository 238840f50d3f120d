// Typed usage of cifbridge.d.ts: `tsc --noEmit -p tsconfig.json` must pass.
import {
  connect,
  install,
  CifBridgeError,
  ErrorCode,
  TIMEOUT_MESSAGE,
  type Client,
  type XrmCreateResult,
  type LateDetail,
  type CIFramework,
  type NotifyEventResult,
  type Presence,
} from "cifbridge-client";

async function widget(): Promise<void> {
  const client: Client = await connect("ws://127.0.0.1:8787/v1/widget", {
    profile: "cif2",
    client: "usage/1",
    minReconnectionDelay: 100,
    offlineWaitMs: 0,
    connectTimeoutMs: 5000,
    token: "s3cret",
  });
  client.addEventListener("giveup", (ev) => console.log(ev.detail.error.code === ErrorCode.NotConnected));
  const resume: string | null = client.resumeToken;
  console.log(resume);
  const cif = client.CIFramework;

  const created: string = await cif.createRecord("contact", JSON.stringify({ firstname: "Ada" }));
  const ref = JSON.parse(created) as { entityType: string; id: string };
  const record: string = await cif.retrieveRecord("contact", ref.id, "?$select=fullname");
  await cif.updateRecord("contact", ref.id, '{"lastname":"Lovelace"}');
  await cif.searchAndOpenRecords("contact", "?$filter=fullname eq 'Ada'", true);
  const clickToAct: boolean = await cif.getClickToAct();
  const mode: number = await cif.getMode();
  const width: number = await cif.getWidth();
  await cif.setMode(1);
  await cif.setWidth(400);
  const env: string = await cif.getEnvironment();

  cif.addHandler("onclicktoact", async (eventData: string) => {
    const d = JSON.parse(eventData) as { value: string };
    return { dialled: d.value };
  });

  try {
    await cif.createRecord("contact", "{}");
  } catch (e) {
    const shape = JSON.parse(e as string) as { message?: string };
    if (shape.message === TIMEOUT_MESSAGE && client.lastError) {
      const code = client.lastError.code;
      console.log(code === ErrorCode.Timeout, client.lastError.data);
    }
  }

  const api = client.Enreach.API;
  const r: XrmCreateResult = await api.Xrm.createRecord("phonecall", { subject: "Call" }, 3, 1000, { idempotent: true });
  if (r.possibleDuplicate) console.log(r.ledgerId);
  await api.Xrm.updateRecord("phonecall", r.id, { statecode: 1 });
  const who = await api.Xrm.execute<{ UserId: string }>(null, { operationType: 1, operationName: "WhoAmI" });
  console.log(who.UserId, record, clickToAct, mode, width, env);
  try {
    await api.executeQuery("/users/me");
    await api.setANumber("+358401234567");
  } catch (e) {
    if (e instanceof CifBridgeError && e.code === ErrorCode.ConnectionLost) console.log("unknown outcome");
  }

  client.addEventListener("late", (ev) => {
    const d: LateDetail = ev.detail;
    console.log(d.method, d.lateByMs);
  });
  client.addEventListener("ledger", (ev) => console.log(ev.detail.entry.status));
  client.addEventListener("open", (ev) => console.log(ev.detail.resumed));
  const n: number = await client.call<number>("cif.getmode");
  console.log(n);
  client.close();
}

async function page(): Promise<void> {
  window.addEventListener("CIFInitDone", (ev) => console.log(ev.detail.length));
  window.addEventListener("cifbridge:late", (ev) => console.log(ev.detail.requestId));
  const client = await install({ url: () => Promise.resolve("ws://127.0.0.1:8787/v1/widget") });
  console.log(client.session);
  // What install() put on window, as a widget's own code uses it.
  const created: string = await window.Microsoft.CIFramework.createRecord("contact", '{"firstname":"Ada"}');
  const sessionId: string = await window.Microsoft.CIFramework.createSession({ templateName: "call_session" });
  const me = await window.Enreach.API.executeQuery<{ Id: string }>("/users/me", null);
  console.log(created, sessionId, me.Id, window.cifbridge.session === client.session);
}

void widget;
void page;

// CIF 2.0: sessions, tabs, notifications, presence.
async function cif2(cif: CIFramework): Promise<void> {
  const can: boolean = await cif.canCreateSession();
  const sessionId: string = await cif.createSession({ templateName: "call_session", templateParameters: { customer: "Ada" } });
  const info = await cif.getSession(sessionId);
  const focused: boolean = info.isFocused;
  const all: string[] = await cif.getAllSessions();
  const cur: string | null = await cif.getFocusedSession();
  await cif.requestFocusSession(sessionId, 2);
  await cif.setSessionTitle({ sessionId, title: "Ada" });
  const tabId: string = await cif.createTab({ templateName: "contact_tab", appContext: new Map([["etn", "contact"]]), isFocused: true });
  const tabs: string[] = await cif.getTabs("contact_tab");
  await cif.setTabTitle(tabId, { title: "Contact" });
  await cif.closeTab(tabId);
  const outcome: NotifyEventResult = JSON.parse(await cif.notifyEvent({ templateName: "incoming_call" }, undefined, "token-1"));
  const action: string = outcome.value.actionName;
  await cif.cancelEvent("token-1");
  const presence: Presence = JSON.parse(await cif.getPresence());
  const ok: boolean = await cif.setPresence(presence.presenceText);
  await cif.initializeAgentPresenceList([{ presenceId: "a", presenceText: "Available" }]);
  await cif.notifyKpiBreach(sessionId, false, "SLA");
  await cif.notifyNewActivity(sessionId, 3);
  const raised: boolean = await cif.raiseEvent("oncustomevent", "x");
  const notes: string = await cif.insertNotes("contact", "contacts", "id");
  const code: -32008 = ErrorCode.SafetyLimit;
  void [can, focused, all, cur, tabs, action, ok, raised, notes, code];
}
void cif2;
