// Type declarations for cifbridge.js (hand-written; the module has no build step).
//
// Error shapes
// ------------
// Microsoft.CIFramework.* reject with a JSON **string**, like stock CIF:
//   bridge -32001 backend failure  → '{"value":{"errorMsg","sourceFunc","errorType","reportTime"}}'
//   bridge -32000 or client timer  → '{"message":"Timeout occurred as no response was received from listener window"}'
//   client-side validation         → '{"message":"…","msdyn_name":"<api>"}'  (bridge not contacted)
//   bridge -32602 invalid params   → '{"message":"…","msdyn_name":"<api>"}'
//   anything else (no stock CIF counterpart: connection lost, not connected, overloaded, …)
//                                  → '{"message":"…","msdyn_name":"<api>","code":<code>}'
// The full error (Dataverse code, HTTP status, attempt id…) is never lost:
// it is Client.lastError and the detail of the Client "rpcerror" event,
// both set before the promise rejects.
// Enreach.API.* and Client.call reject with CifBridgeError.

/** JSON-RPC codes of the wire contract, plus the two client-side codes. */
export declare const ErrorCode: {
  readonly ParseError: -32700;
  readonly InvalidRequest: -32600;
  readonly MethodNotFound: -32601;
  readonly InvalidParams: -32602;
  readonly Internal: -32603;
  readonly Timeout: -32000;
  readonly Backend: -32001;
  readonly NoBackend: -32002;
  readonly Overloaded: -32003;
  readonly Unauthorized: -32004;
  readonly RetriesExhausted: -32005;
  readonly Upstream: -32006;
  readonly ShuttingDown: -32007;
  /** A call CIF runs without a timeout reached the bridge's --notimeout-limit. */
  readonly SafetyLimit: -32008;
  /** The socket closed while the call was in flight: its outcome is unknown. It is never re-sent. */
  readonly ConnectionLost: "CONNECTION_LOST";
  /** The call was never sent (no connection within offlineWaitMs, queue full, or client closed). */
  readonly NotConnected: "NOT_CONNECTED";
};

export type ErrorCodeValue = (typeof ErrorCode)[keyof typeof ErrorCode] | number;

export declare const VERSION: string;
export declare const TIMEOUT_MESSAGE: "Timeout occurred as no response was received from listener window";
export declare const NO_HANDLER_MESSAGE: "No handlers found to process the request.";

/** An error of the bridge (a JSON-RPC error) or of this client. */
export declare class CifBridgeError extends Error {
  constructor(code: ErrorCodeValue, message: string, data?: unknown, method?: string);
  readonly name: "CifBridgeError";
  /** JSON-RPC error code, or "CONNECTION_LOST" / "NOT_CONNECTED". */
  code: ErrorCodeValue;
  /** error.data as the bridge sent it (see BackendErrorData, TimeoutErrorData). */
  data: any;
  /** The JSON-RPC method of the failed call. */
  method?: string;
}

/** The CIF error stock CIF rejects with under "value". */
export interface CIFErrorValue {
  errorMsg: string;
  sourceFunc?: string;
  /** 0 InvalidParams, 1 TimeOut, 2 XrmApiError, 3 GenericError */
  errorType: number;
  reportTime?: string;
}

/** data of a -32001 error. */
export interface BackendErrorData {
  dataverseCode?: string;
  httpStatus?: number;
  errorMsg: string;
  value: CIFErrorValue;
}

/** data of a -32000 error. */
export interface TimeoutErrorData {
  message: string;
  timeoutMs: number;
  attemptId?: string;
  /** true when this client's safety timer fired, not the bridge. */
  clientSide?: boolean;
}

/** Formats a CifBridgeError as the JSON string Microsoft.CIFramework.<apiName> rejects with. */
export declare function cifErrorString(err: CifBridgeError, apiName: string): string;

export type Profile = "cif1" | "cif2";

/** A WHATWG-style WebSocket constructor (the browser's, or e.g. the `ws` package in Node). */
export interface WebSocketLike {
  readonly readyState: number;
  onopen: ((ev: any) => any) | null;
  onmessage: ((ev: { data: any }) => any) | null;
  onclose: ((ev: { code?: number; reason?: string }) => any) | null;
  onerror: ((ev: any) => any) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}
export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => WebSocketLike;

export interface ConnectOptions {
  /** WebSocket implementation; default globalThis.WebSocket. */
  WebSocket?: WebSocketConstructor;
  /** CIF profile asked for in bridge.hello; default "cif1" (10 s timeout). */
  profile?: Profile;
  /** Resume this session id. */
  session?: string;
  /** With session: the resumeToken the bridge gave for it (bridge.hello result), sent back when resuming. */
  resumeToken?: string;
  /**
   * The bridge's widget token (daemon --widget-token; the admin token works
   * too), added to the URL as ?access_token= (a browser WebSocket cannot send
   * an Authorization header). Never in messages.
   */
  token?: string;
  /** Free text for the bridge's logs; default "cifbridge.js/<version>". */
  client?: string;
  /** Per-session Enreach token for enreach.* calls; sent in bridge.hello only. */
  enreachToken?: string;
  /** WebSocket subprotocols; default ["cifbridge.v1"]. */
  protocols?: string | string[];
  /** Added to the session timeout for the client's safety timer; default 2000 ms. */
  timeoutGraceMs?: number;
  /** First reconnect delay; default 1000 + Math.random()·4000 ms (chosen once per client). */
  minReconnectionDelay?: number;
  /** Reconnect delay cap; default 10000 ms. */
  maxReconnectionDelay?: number;
  /** Reconnect delay growth per attempt; default 1.3. */
  reconnectionDelayGrowFactor?: number;
  /** A connection that stayed up this long resets the retry count; default 5000 ms. */
  minUptime?: number;
  /** A socket not open within this is closed and retried; default 4000 ms. */
  connectionTimeout?: number;
  /** Reconnect attempts before giving up (connect() rejects, "giveup", the client closes); default Infinity. */
  maxRetries?: number;
  /**
   * The first connection (socket open and bridge.hello answered) must succeed
   * within this, or connect()/install() reject with NOT_CONNECTED ("cannot
   * reach cifbridge at <url> within N ms …"), "giveup" fires and the client
   * closes. Later drops reconnect under maxRetries. Default 30000 ms;
   * Infinity or 0 waits forever.
   */
  connectTimeoutMs?: number;
  /**
   * A call made while disconnected waits this long for the reconnect, then
   * rejects NOT_CONNECTED; 0 fails fast. Default 10000 ms. Waiting calls were
   * never sent, so sending them after the reconnect is not a re-send.
   */
  offlineWaitMs?: number;
  /** At most this many calls wait while disconnected; default 100. */
  offlineQueueMax?: number;
}

export interface InstallOptions extends ConnectOptions {
  /** ws(s)://host:port/v1/widget, or a function returning it (fresh tokens). */
  url: string | (() => string | Promise<string>);
  /** The window to install on; default globalThis.window. */
  window?: any;
}

export interface HelloResult {
  session: string;
  profile: Profile;
  timeoutMs: number;
  version: string;
  resumed?: boolean;
  /** When the bridge gives one: send it back to resume this session (the client does). */
  resumeToken?: string;
}

export interface OpenEventDetail {
  session: string;
  profile: Profile;
  timeoutMs: number;
  /** true when the previous session was resumed after a reconnect. */
  resumed: boolean;
  hello: HelloResult;
}

/** params of the bridge.late notification. */
export interface LateDetail {
  requestId: number | string;
  attemptId: string;
  /** the attempt's method, e.g. "cif.createrecord". */
  method: string;
  /** the widget call the attempt served when it differs from method, e.g. "enreach.xrm.createRecord". */
  widgetMethod?: string;
  outcome: "success" | "failure";
  lateByMs: number;
  result?: unknown;
  error?: { code: number; message: string; data?: unknown };
}

/** params of the bridge.ledger notification. */
export interface LedgerDetail {
  entry: { id: string; status: string; [k: string]: unknown };
}

export interface ClientEventMap {
  open: CustomEvent<OpenEventDetail>;
  close: CustomEvent<{ code?: number; reason?: string; wasConnected: boolean }>;
  reconnecting: CustomEvent<{ attempt: number; delayMs: number }>;
  /** A resume was refused (the session is gone, or not ours: -32004); the client started a new session. */
  sessionlost: CustomEvent<{ session: string; error: CifBridgeError }>;
  /**
   * The client stopped for good: first connection not made within
   * connectTimeoutMs, maxRetries spent, a fresh hello refused, or the
   * session moved to another connection (close 4001).
   */
  giveup: CustomEvent<{ error: CifBridgeError }>;
  late: CustomEvent<LateDetail>;
  ledger: CustomEvent<LedgerDetail>;
  notification: CustomEvent<{ method: string; params: any }>;
  rpcerror: CustomEvent<{ api: string; method: string; error: CifBridgeError }>;
  handlererror: CustomEvent<{ eventName: string; index: number; error: unknown }>;
}

/** An event handler: gets the event data as a JSON string; its resolved value is the answer. */
export type CIFEventHandler = (eventData: string) => unknown | Promise<unknown>;

/** CIF 2.0 "JSON input": an object (Maps allowed, sent as objects) or a JSON string. */
export type CIFInput = string | Record<string, unknown> | Map<string, unknown>;

/** createSession's input. */
export interface SessionInput {
  templateName: string;
  templateTag?: string;
  /** Global parameters, and per-tab-template objects: {"customer":"Ada","contact_tab":{…}}. */
  templateParameters?: Record<string, unknown>;
}

/** createTab's input. */
export interface TabInput {
  templateName: string;
  appContext?: Map<string, unknown> | Record<string, unknown>;
  isFocused?: boolean;
}

/** notifyEvent's input. */
export interface NotificationInput {
  templateName: string;
  templateParameters?: Record<string, unknown>;
}

/** What getSession resolves with. */
export interface CIFSessionInfo {
  sessionId: string;
  context: Record<string, unknown>;
  isFocused: boolean;
  title: string;
  templateName: string;
  providerSessionId?: string;
}

/** One agent presence (getPresence resolves with it as a JSON string). */
export interface Presence {
  presenceId: string;
  presenceText: string;
  presenceColor?: string;
  basePresenceStatus?: string;
}

/**
 * notifyEvent's outcome, parsed from the JSON string it resolves with:
 * Accept/Accept, Accept/AutoAccept, Reject/DeclinedByAgent,
 * Reject/NotificationQueueLimitExceeded, Timeout/DisplayTimeout, and
 * (cifbridge, after cancelEvent) Cancel/CancelledByProvider.
 */
export interface NotifyEventResult {
  value: { actionName: "Accept" | "Reject" | "Timeout" | "Cancel"; responseReason: string };
}

/**
 * eventData (a JSON string) of onSessionCreated, onSessionSwitched,
 * onBeforeSessionClosed and onSessionClosed.
 */
export interface SessionEventData {
  sessionId: string;
  focused: boolean;
  context: Record<string, unknown>;
}

/**
 * The Microsoft.CIFramework surface: every method of CIF 1.0 and 2.0. CIF
 * 2.0's session, tab, notification and presence calls are answered by the
 * bridge's agent workspace (or a host peer); their errors reject with CIF's
 * '{"message","msdyn_name"}' string, e.g.
 * '{"message":"NotificationTemplateNotFoundError","msdyn_name":"NotifyEvent"}'.
 */
export interface CIFramework {
  /** Resolves with the JSON string {"entityType","id"}. data is a JSON string (an object is accepted too). */
  createRecord(entityLogicalName: string, data: string | object): Promise<string>;
  /** Resolves with the record as a JSON string. options: "?$select=…&$expand=…". */
  retrieveRecord(entityLogicalName: string, id: string, options?: string): Promise<string>;
  /** Resolves with the JSON string {"entityType","id"}. */
  updateRecord(entityLogicalName: string, id: string, data: string | object): Promise<string>;
  deleteRecord(entityLogicalName: string, id: string): Promise<string>;
  /** cif.search when searchOnly, else cif.searchandopenrecords; resolves with '{"0":record,…}'. */
  searchAndOpenRecords(entityLogicalName: string, queryParameters: string, searchOnly: boolean): Promise<string>;
  getEnvironment(): Promise<string>;
  getEntityMetadata(entityName: string, attributes?: string[]): Promise<string>;
  /** No client timer: CIF posts openForm without a timeout. */
  openForm(entityFormOptions: string, entityFormParameters?: string): Promise<string>;
  refreshForm(save?: boolean): Promise<string>;
  setClickToAct(value: boolean): Promise<void>;
  getClickToAct(): Promise<boolean>;
  /** 0 minimised, 1 docked, 2 hidden. */
  setMode(value: 0 | 1 | 2): Promise<void>;
  getMode(): Promise<number>;
  setWidth(value: number): Promise<void>;
  getWidth(): Promise<number>;
  renderSearchPage(entityName: string, searchString: string): Promise<void>;
  /**
   * Every handler of an event runs; the answer is the first registered
   * handler's result (its rejection answers an error). With no handler the
   * bridge gets CIF's {"message":"No handlers found to process the request."}.
   * Returns a rejected promise only on bad arguments, as CIF does.
   */
  addHandler(eventName: string, handlerFunction: CIFEventHandler): void | Promise<never>;
  removeHandler(eventName: string, handlerFunction: CIFEventHandler): void | Promise<never>;

  // CIF 2.0: sessions
  canCreateSession(): Promise<boolean>;
  /** Resolves with the new session's id; raises onSessionCreated and onSessionSwitched. */
  createSession(input: SessionInput | CIFInput, correlationId?: string, providerSessionId?: string): Promise<string>;
  getAllSessions(): Promise<string[]>;
  /** null when the focused session is not the provider's (the home session). */
  getFocusedSession(): Promise<string | null>;
  getSession(sessionId: string): Promise<CIFSessionInfo>;
  /** Marks an unfocused session with messagesCount unread messages (default 1); the agent moves the focus. */
  requestFocusSession(sessionId: string, messagesCount?: number): Promise<void>;
  /** input: {sessionId, title} or {sessionId, <title slugs>}. */
  setSessionTitle(input: CIFInput): Promise<void>;
  /** Resolves with the session's context as a JSON string. */
  updateContext(input: CIFInput, sessionId?: string, isDelete?: boolean): Promise<string>;

  // CIF 2.0: application tabs (of the focused session)
  createTab(input: TabInput | CIFInput): Promise<string>;
  focusTab(tabId: string): Promise<void>;
  getFocusedTab(): Promise<string | null>;
  getTabs(name?: string, tag?: string): Promise<string[]>;
  refreshTab(tabId: string): Promise<void>;
  /** input: {title}; resolves with the title. */
  setTabTitle(tabId: string, input: CIFInput): Promise<string>;
  closeTab(tabId: string): Promise<void>;

  // CIF 2.0: notifications and session indicators
  /**
   * Resolves with a JSON string of NotifyEventResult once the agent (or the
   * template's timeout) decides. No client timer: CIF posts notifyEvent
   * without a timeout.
   */
  notifyEvent(input: NotificationInput | CIFInput, correlationId?: string, cancellationToken?: string): Promise<string>;
  /** Withdraws the pending notifyEvent of this token; resolves with a JSON string of NotifyEventResult. */
  cancelEvent(cancellationToken: string): Promise<string>;
  notifyKpiBreach(sessionId: string, shouldReset?: boolean, details?: string): Promise<void>;
  notifyNewActivity(sessionId: string, count: number): Promise<void>;

  // CIF 2.0: presence
  /** Exact match against the presence list; false when none matches. */
  setPresence(presenceText: string): Promise<boolean>;
  /** Resolves with the current Presence as a JSON string. */
  getPresence(): Promise<string>;
  setAgentPresence(presenceInfo: Partial<Presence> | string): Promise<boolean>;
  initializeAgentPresenceList(presenceList: Presence[] | string): Promise<boolean>;

  // CIF 2.0: notes, conversations, analytics, misc
  /** Waits for the agent to save the note (no client timer); resolves with '{"entityName","entityId","annotationId"}'. */
  insertNotes(entityName: string, entitySetName: string, entityId: string, annotationId?: string): Promise<string>;
  updateConversation(id: string, data: CIFInput): Promise<string>;
  initLogAnalytics(data: CIFInput): Promise<string>;
  logAnalyticsEvent(data: CIFInput, eventName: string): Promise<string>;
  /** Invokes the widget's own handlers of eventName (the emulated main page has none); true once they answered. */
  raiseEvent(eventName: string, eventInputParameters?: unknown): Promise<boolean>;
  isConsoleApp(): Promise<boolean>;
  openKBSearchControl(searchString: string): Promise<boolean>;
}

/** Metadata as getMetadata() of an Xrm.WebApi.online.execute request returns it. */
export interface XrmMetaData {
  boundParameter?: string | null;
  parameterTypes?: Record<string, { typeName: string; structuralProperty: number; enumProperties?: unknown }>;
  /** 0 action, 1 function, 2 CRUD */
  operationType: 0 | 1 | 2;
  operationName: string;
}

export interface XrmCreateResult {
  entityType: string;
  id: string;
  attempts: number;
  /** An attempt timed out and a later one succeeded: the record may exist twice (see ledgerId). */
  possibleDuplicate: boolean;
  ledgerId?: string;
}

export interface XrmUpdateResult {
  entityType: string;
  id: string;
  attempts: number;
  possiblyReapplied: boolean;
}

export interface XrmCreateOptions {
  /** The bridge puts a GUID in the primary key before attempt 1 and reuses it: no duplicates. */
  idempotent?: boolean;
}

/** Enreach Voice for Dynamics JavaScript API. Rejects with CifBridgeError. */
export interface EnreachAPI {
  /** postData null → GET, an object → POST, method overrides. Resolves with the parsed body. */
  executeQuery<T = any>(query: string, postData?: unknown, method?: string): Promise<T>;
  /** Sets the caller id for the next call only. */
  setANumber<T = any>(aNumber: string): Promise<T>;
  Xrm: {
    /** maxRetries default 3, delay default 1000 ms. options is a cifbridge extension. */
    createRecord(
      entityLogicalName: string,
      data: object,
      maxRetries?: number,
      delay?: number,
      options?: XrmCreateOptions,
    ): Promise<XrmCreateResult>;
    updateRecord(
      entityLogicalName: string,
      id: string,
      data: object,
      maxRetries?: number,
      delay?: number,
    ): Promise<XrmUpdateResult>;
    retrieveRecord<T = any>(
      entityLogicalName: string,
      id: string,
      options?: string,
      maxRetries?: number,
      delay?: number,
    ): Promise<T>;
    /** Resolves with the parsed response body. */
    execute<T = any>(data: unknown, metaData: XrmMetaData): Promise<T>;
  };
}

/** One widget session on the bridge. */
export declare class Client extends EventTarget {
  constructor(url: string | (() => string | Promise<string>), options?: ConnectOptions);
  /** Session id from bridge.hello (kept across reconnects). */
  session: string | null;
  /** The bridge's resumeToken for session (bridge.hello result), sent back when resuming; null when none. */
  resumeToken: string | null;
  profile: Profile;
  /** The session's CIF timeout from bridge.hello. */
  timeoutMs: number;
  bridgeVersion: string | null;
  /** The full error behind the last rejected Microsoft.CIFramework call. */
  lastError: CifBridgeError | null;
  readonly connected: boolean;
  readonly CIFramework: CIFramework;
  readonly Enreach: { API: EnreachAPI };
  /** Resolves once the first bridge.hello is answered. */
  ready(): Promise<Client>;
  /**
   * Raw JSON-RPC call; rejects with CifBridgeError. opts.timeoutMs is the
   * client safety timer (default session timeout + grace; null for none).
   */
  call<T = any>(method: string, params?: object, opts?: { timeoutMs?: number | null }): Promise<T>;
  /** Sends a notification; false when disconnected (dropped). */
  notify(method: string, params?: object): boolean;
  addHandler(eventName: string, fn: CIFEventHandler): void;
  removeHandler(eventName: string, fn: CIFEventHandler): void;
  /** Closes for good: no reconnect, every pending and waiting call rejects. */
  close(code?: number, reason?: string): void;

  addEventListener<K extends keyof ClientEventMap>(
    type: K,
    listener: (ev: ClientEventMap[K]) => any,
    options?: boolean | AddEventListenerOptions,
  ): void;
  addEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject | null,
    options?: boolean | AddEventListenerOptions,
  ): void;
  removeEventListener<K extends keyof ClientEventMap>(
    type: K,
    listener: (ev: ClientEventMap[K]) => any,
    options?: boolean | EventListenerOptions,
  ): void;
  removeEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject | null,
    options?: boolean | EventListenerOptions,
  ): void;
}

/**
 * Connects to a cifbridge /v1/widget endpoint; resolves once bridge.hello is
 * answered. Rejects with CifBridgeError when the bridge refuses the hello or
 * maxRetries is exhausted.
 */
export declare function connect(url: string | (() => string | Promise<string>), options?: ConnectOptions): Promise<Client>;

/**
 * Connects, sets window.Microsoft.CIFramework, window.Enreach.API and
 * window.cifbridge (the Client), then dispatches CIFInitDone on window.
 * bridge.late / bridge.ledger are also dispatched on window as
 * "cifbridge:late" / "cifbridge:ledger".
 */
export declare function install(options: InstallOptions): Promise<Client>;

declare global {
  /** What install() puts on window, so a widget's own code types as it runs. */
  interface Window {
    /** The drop-in Microsoft.CIFramework (set by install()). */
    Microsoft: { CIFramework: CIFramework };
    /** The drop-in Enreach.API (set by install()). */
    Enreach: { API: EnreachAPI };
    /** The Client install() connected (set by install()). */
    cifbridge: Client;
  }
  interface WindowEventMap {
    CIFInitDone: CustomEvent<string[]>;
    "cifbridge:late": CustomEvent<LateDetail>;
    "cifbridge:ledger": CustomEvent<LedgerDetail>;
  }
}
