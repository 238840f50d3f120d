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
}

void widget;
void page;
