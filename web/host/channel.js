// channel.js: the CIF postMessage channel as the Dynamics main window sees
// it — envelopes, Maps, trusted domains and the messageType → cif.* table.
// Pure functions (no DOM), so node's unit tests run them too.
//
// Facts of the channel (README "Run a real widget"):
//   request   {messageType, messageData: Map, messageCorrelationId}
//   response  {messageOutcome: "success"|"failure", messageData: Map, messageCorrelationId}
//             (newer library builds add messageType "CIF_Response": both are accepted)
//   event     {messageType: "<event>", messageData: "<JSON string>", messageCorrelationId}
// messageData travels by structured clone, so it is a real ES Map whose
// record values are nested Maps.

import { TIMEOUT_MESSAGE, NO_HANDLER_MESSAGE, ErrorCode, cifErrorString } from "../client/cifbridge.js";

export { TIMEOUT_MESSAGE, NO_HANDLER_MESSAGE };

/** CIF's answer to a sender whose origin is not trusted. */
export const UNTRUSTED_MESSAGE =
  "Sender domain is not a recognised or is invalid and hence the message cant be processed";

/** The messageType newer library builds put on replies. */
export const RESPONSE_TYPE = "CIF_Response";

/**
 * The CIF calls this host relays: messageType (as the bridge spells it) →
 * CIF api name (used in error Maps as msdyn_name). The bridge's method is
 * "cif." + messageType (protocol/methods.go; protocol/envelope.go maps
 * messageTypes the same way). Matching is case-insensitive, like the
 * bridge's.
 */
export const CIF_CALLS = Object.freeze({
  createrecord: "createRecord",
  retrieverecord: "retrieveRecord",
  updaterecord: "updateRecord",
  deleterecord: "deleteRecord",
  search: "searchAndOpenRecords",
  searchandopenrecords: "searchAndOpenRecords",
  getenvironment: "getEnvironment",
  openform: "openForm",
  refreshform: "refreshForm",
  getEntityMetadata: "getEntityMetadata",
  setclicktoact: "setClickToAct",
  getclicktoact: "getClickToAct",
  setmode: "setMode",
  getmode: "getMode",
  setwidth: "setWidth",
  getwidth: "getWidth",
  renderSearchPage: "renderSearchPage",
  // CIF 2.0 (protocol/cif2.go, protocol.CIFMethods): answered by the
  // bridge's agent workspace (or a host peer), raiseEvent by the bridge.
  createSession: "createSession",
  getAllSessions: "getAllSessions",
  getFocusedSession: "getFocusedSession",
  getSession: "getSession",
  canCreateSession: "canCreateSession",
  requestFocusSession: "requestFocusSession",
  createTab: "createTab",
  focusTab: "focusTab",
  getFocusedTab: "getFocusedTab",
  getTabsByTagOrName: "getTabsByTagOrName",
  refreshTab: "refreshTab",
  setTabTitle: "setTabTitle",
  setSessionTitle: "setSessionTitle",
  notifyEvent: "notifyEvent",
  insertNotes: "insertNotes",
  setAgentPresence: "setAgentPresence",
  initializeAgentPresenceList: "initializeAgentPresenceList",
  notifyKpiBreach: "notifyKpiBreach",
  notifyNewActivity: "notifyNewActivity",
  updateContext: "updateContext",
  openKBSearchControl: "openKBSearchControl",
  isConsoleApp: "isConsoleApp",
  getTabs: "getTabs",
  closeTab: "closeTab",
  cancelEvent: "cancelEvent",
  setPresence: "setPresence",
  getPresence: "getPresence",
  updateConversation: "updateConversation",
  raiseEvent: "raiseEvent",
  logAnalyticsEvent: "logAnalyticsEvent",
  initLogAnalytics: "initLogAnalytics",
});

/**
 * The params the bridge takes for the calls it validates strictly
 * (protocol/params.go); other members a library build may add (telemetry,
 * newer options such as searchType) are left out by paramsFor instead of
 * failing the call with -32602. Calls not listed go as they are.
 */
export const PARAM_KEYS = Object.freeze({
  createrecord: ["entityName", "value"],
  retrieverecord: ["entityName", "entityId", "queryParameters"],
  updaterecord: ["entityName", "entityId", "value"],
  deleterecord: ["entityName", "entityId"],
  search: ["entityName", "queryParameters", "searchOnly"],
  searchandopenrecords: ["entityName", "queryParameters", "searchOnly"],
  getEntityMetadata: ["entityName", "attributes"],
  setclicktoact: ["value"],
  setmode: ["value"],
  setwidth: ["value"],
  // CIF 2.0 (protocol/cif2.go): the bridge refuses unknown members.
  createSession: ["input", "providerSessionId"],
  getSession: ["sessionId"],
  requestFocusSession: ["sessionId", "messagesCount"],
  setSessionTitle: ["input"],
  updateContext: ["input", "sessionId", "isDelete"],
  createTab: ["input"],
  focusTab: ["tabId"],
  getTabs: ["templateName", "templateTag"],
  getTabsByTagOrName: ["templateName", "templateTag"],
  refreshTab: ["tabId"],
  setTabTitle: ["tabId", "input"],
  closeTab: ["tabId"],
  notifyEvent: ["input", "cancellationToken"],
  cancelEvent: ["cancellationToken"],
  notifyKpiBreach: ["sessionId", "shouldReset", "details"],
  notifyNewActivity: ["sessionId", "count"],
  setPresence: ["presenceText"],
  setAgentPresence: ["presenceInfo"],
  initializeAgentPresenceList: ["presenceList"],
  insertNotes: ["entityName", "entitySetName", "entityId", "annotationId"],
  updateConversation: ["id", "data"],
  raiseEvent: ["eventName", "eventInputParameters"],
  initLogAnalytics: ["data"],
  logAnalyticsEvent: ["data", "eventName"],
  openKBSearchControl: ["searchString"],
});

/**
 * The params of a relayed call: requestParams, restricted to PARAM_KEYS for
 * the calls listed there. Returns the params and the names left out.
 * @param {string} type the bridge's messageType (canonicalType)
 * @returns {{params: object, dropped: string[]}}
 */
export function paramsFor(type, messageData) {
  const all = libraryShape(type, requestParams(messageData));
  const keys = PARAM_KEYS[type];
  if (!keys) return { params: all, dropped: [] };
  const params = {};
  const dropped = [];
  for (const [k, v] of Object.entries(all)) {
    if (keys.includes(k)) params[k] = v;
    else dropped.push(k);
  }
  return { params, dropped };
}

/**
 * The members of notifyEvent's input, which Microsoft's library posts at the
 * top of messageData instead of under "input" (its notifyEvent builds the
 * Map member by member: eventType, templateName, templateParameters,
 * templateNameResolver, notificationUXObject).
 */
const NOTIFY_INPUT_KEYS = ["eventType", "templateName", "templateParameters", "templateNameResolver", "notificationUXObject"];

/**
 * Params as Microsoft's library posts them, in the shape the bridge takes
 * (protocol/cif2.go): notifyEvent's input members gathered under "input";
 * getTabs' name, which the library sends as "msdyn_name"
 * (Constants.nameParameter), as "templateName"; updateConversation's
 * {entityName: "msdyn_ocliveworkitem", entityId, value} as {id, data}.
 * Other calls, and params already in the bridge's shape, are returned as
 * they are.
 */
function libraryShape(type, params) {
  if (type === "notifyEvent" && params.input === undefined && NOTIFY_INPUT_KEYS.some((k) => k in params)) {
    const input = {};
    const rest = {};
    for (const [k, v] of Object.entries(params)) (NOTIFY_INPUT_KEYS.includes(k) ? input : rest)[k] = v;
    return { ...rest, input };
  }
  if ((type === "getTabsByTagOrName" || type === "getTabs") && "msdyn_name" in params && params.templateName === undefined) {
    const { msdyn_name: templateName, ...rest } = params;
    return { ...rest, templateName };
  }
  if (type === "updateConversation" && params.id === undefined && "entityId" in params) {
    const { entityName, entityId: id, value: data, ...rest } = params;
    return { ...rest, id, data };
  }
  return params;
}

/** Calls the library posts without a timer (it waits for them forever). */
export const NO_TIMER = new Set(["openform", "notifyEvent", "insertNotes"]);

/** CIF events the host raises to the widget (protocol.KnownEvents). */
export const KNOWN_EVENTS = Object.freeze([
  "onclicktoact", "onmodechanged", "onsizechanged", "onpagenavigate", "onsendkbarticle",
  "onSessionSwitched", "onSessionCreated", "onBeforeSessionClosed", "onSessionClosed",
  "onSetPresence", "onMaxSessionsReached", "onPresenceChange",
]);

const lowerCalls = new Map(Object.keys(CIF_CALLS).map((k) => [k.toLowerCase(), k]));

/** The bridge's spelling of a messageType, or null when this host has no handler for it. */
export function canonicalType(messageType) {
  if (typeof messageType !== "string") return null;
  return lowerCalls.get(messageType.toLowerCase()) || null;
}

/**
 * A structured-cloned value as plain JSON data: Maps become objects
 * (recursively), undefined members are left out, arrays keep their order.
 */
export function toPlain(v) {
  if (v instanceof Map) {
    const o = {};
    for (const [k, x] of v) if (x !== undefined) o[String(k)] = toPlain(x);
    return o;
  }
  if (Array.isArray(v)) return v.map(toPlain);
  if (v && typeof v === "object" && Object.getPrototypeOf(v) === Object.prototype) {
    const o = {};
    for (const [k, x] of Object.entries(v)) if (x !== undefined) o[k] = toPlain(x);
    return o;
  }
  return v;
}

/** An object as a Map of its own members (one level: member values stay as they are). */
export function toMap(v) {
  if (v && typeof v === "object" && !Array.isArray(v) && !(v instanceof Map)) return new Map(Object.entries(v));
  return v;
}

/**
 * The calls whose result CIF's host builds as a Map: the LookupValue
 * {entityType, id} of Xrm.WebApi's create (and update and delete). The
 * library turns that Map into the JSON string '{"entityType","id"}'.
 */
export const LOOKUP_RESULTS = new Set(["createrecord", "updaterecord", "deleterecord"]);

/**
 * Every call whose result CIF's host builds as a Map (Dynamics' host:
 * UnifiedClient's buildMap of the record, the environment's Map, the
 * notification's Map), not only the LookupValues: Microsoft's library
 * resolves these calls with JSON.stringify(buildEntity(value)), and
 * buildEntity walks the value with Map#forEach, so a plain object there
 * throws inside the library ("map.forEach is not a function") and the
 * widget's promise never settles, with no timer left to end it. One level
 * only, as the host builds them: nested values (an $expand, a search's
 * records) stay plain. The widget gets the JSON string it expects either
 * way: the record, '{"0":record,…}' for a search, '{"value":{"actionName",
 * "responseReason"}}' for notifyEvent. Other results (a mode, a session id,
 * openForm's, which the library stringifies as it is) stay plain.
 */
export const MAP_RESULTS = new Set([
  ...LOOKUP_RESULTS, "retrieverecord", "search", "searchandopenrecords", "getenvironment",
  "notifyEvent", "insertNotes", "updateConversation",
]);

/**
 * The JSON-RPC params of a request's messageData (the same rule as
 * protocol.EnvelopeToJSONRPC): a Map or object as it is, a JSON string
 * holding an object parsed, nothing → {}, any other value → {value}. The
 * library's telemetry-only "correlationId" key is left out: the bridge
 * validates params strictly and it is no CIF parameter.
 */
export function requestParams(messageData) {
  let d = toPlain(messageData);
  if (typeof d === "string") {
    try {
      const parsed = JSON.parse(d);
      if (parsed && typeof parsed === "object" && !Array.isArray(parsed)) d = parsed;
    } catch {
      /* a plain string value */
    }
  }
  if (d === null || d === undefined) return {};
  if (typeof d !== "object" || Array.isArray(d)) return { value: d };
  const { correlationId, ...params } = d;
  return params;
}

/**
 * The success envelope of a bridge result, built the way CIF's host builds
 * it: messageData is Map{value: result}; the result is itself a Map (one
 * level) for the calls in MAP_RESULTS and stays plain data otherwise.
 * @param {string} id the request's messageCorrelationId
 * @param {unknown} result the bridge's result
 * @param {string} [type] the bridge's messageType of the call
 */
export function successEnvelope(id, result, type) {
  return {
    messageType: RESPONSE_TYPE,
    messageOutcome: "success",
    messageData: new Map([["value", MAP_RESULTS.has(type) ? toMap(result) : result]]),
    messageCorrelationId: id,
  };
}

/**
 * A failure envelope: messageData is the error as a Map of its members,
 * whose values stay plain (CIF's host rejects with Map{value: IErrorHandler}
 * where IErrorHandler is a plain object, or Map{message, msdyn_name}).
 */
export function failureEnvelope(id, data) {
  return {
    messageType: RESPONSE_TYPE,
    messageOutcome: "failure",
    messageData: toMap(data),
    messageCorrelationId: id,
  };
}

/**
 * The error Map a host rejects with for a bridge error (CifBridgeError or
 * anything with code/message/data), built like CIF's host builds it:
 *   timeout            {message: TIMEOUT_MESSAGE}
 *   Dataverse failure  {value: {errorMsg, sourceFunc, errorType: 2, reportTime}}
 *   bad parameters     {message, msdyn_name}
 *   anything else      {message, msdyn_name, code}
 * (the same shapes Microsoft.CIFramework rejects with in cifbridge.js).
 */
export function errorData(err, apiName) {
  return JSON.parse(cifErrorString(err, apiName));
}

/** True when err means the bridge has no handler for the call. */
export function isNoHandler(err) {
  return !!err && err.code === ErrorCode.MethodNotFound;
}

/**
 * The widget URL the page may load in its panel: an http or https URL,
 * absolute or relative to base. Anything else throws with a message that
 * says what to give: a javascript: URL in the panel's src would run in this
 * page's own origin (the daemon's, with its admin API), and a data: or
 * blob: document has an opaque origin no CIF library can talk from.
 * @param {string} raw the ?widget= value
 * @param {string} base the page's location
 * @returns {URL}
 */
export function widgetLocation(raw, base) {
  let u;
  try {
    u = new URL(raw, base);
  } catch {
    throw new Error(`The widget URL ${JSON.stringify(raw)} is not a URL: give its http(s) address, e.g. http://127.0.0.1:5173/widget.html.`);
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") {
    throw new Error(`The widget URL ${JSON.stringify(raw)} is not an http or https URL (${u.protocol}): the panel loads widgets from a web server, e.g. http://127.0.0.1:5173/widget.html.`);
  }
  return u;
}

/**
 * CIF's trusted-domain form of a URL or origin: protocol + "//" + hostname,
 * the port dropped. Returns "" for anything unparsable.
 */
export function reduceOrigin(u) {
  try {
    const url = new URL(u);
    return url.protocol + "//" + url.hostname;
  } catch {
    return "";
  }
}

/**
 * Whether a sender's origin is trusted: its hostname equals a trusted
 * domain's hostname, or ends with the suffix of a "*."-prefixed one. The
 * protocol and the port are not compared (CIF compares hostnames only).
 * Origins "null" and "*" are never trusted.
 * @param {string} origin event.origin
 * @param {string[]} trusted domains as reduceOrigin gives them
 */
export function originTrusted(origin, trusted) {
  if (!origin || origin === "null" || origin === "*") return false;
  let host;
  try {
    host = new URL(origin).hostname.toLowerCase();
  } catch {
    return false;
  }
  for (const t of trusted) {
    const th = String(t).slice(String(t).indexOf("//") + 2).toLowerCase();
    if (th.startsWith("*.") ? host.endsWith(th.slice(1)) : host === th) return true;
  }
  return false;
}

/** A correlation id like the library's: (Math.random()+1).toString(36).substring(7), 4–6 chars. */
export function correlationId() {
  let id = "";
  while (id.length < 4) id = (Math.random() + 1).toString(36).substring(7);
  return id;
}
