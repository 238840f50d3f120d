// sessions.js: Microsoft.CIFramework's CIF 2.0 session methods
// (canCreateSession, createSession, getAllSessions, getFocusedSession,
// getSession, requestFocusSession, setSessionTitle, updateContext). The
// bridge's agent workspace answers them, or a host peer serving the session.

import { jsonInput } from "./input.js";

/** @param {{send: Function, reject: Function, shape: any, isBlank: Function}} ctx */
export function sessions({ send, reject, shape, isBlank }) {
  const blankSession = (api) => reject(api, "The SessionId parameter is blank. Provide a value to the parameter.");
  return {
    canCreateSession() {
      return send("canCreateSession", "cif.canCreateSession", {}, shape.plain);
    },
    createSession(input, correlationId, providerSessionId) {
      if (isBlank(input)) return reject("createSession", "The input parameter is blank. Provide a value to the parameter.");
      const params = { input: jsonInput(input) };
      if (!isBlank(providerSessionId)) params.providerSessionId = String(providerSessionId);
      return send("createSession", "cif.createSession", params, shape.plain);
    },
    getAllSessions() {
      return send("getAllSessions", "cif.getAllSessions", {}, shape.plain);
    },
    getFocusedSession() {
      return send("getFocusedSession", "cif.getFocusedSession", {}, shape.plain);
    },
    getSession(sessionId) {
      if (isBlank(sessionId)) return blankSession("getSession");
      return send("getSession", "cif.getSession", { sessionId }, shape.plain);
    },
    requestFocusSession(sessionId, messagesCount) {
      if (isBlank(sessionId)) return blankSession("requestFocusSession");
      const params = { sessionId };
      if (typeof messagesCount === "number") params.messagesCount = messagesCount;
      return send("requestFocusSession", "cif.requestFocusSession", params, shape.none);
    },
    setSessionTitle(input) {
      if (isBlank(input)) return reject("setSessionTitle", "The input parameter is blank. Provide a value to the parameter.");
      return send("setSessionTitle", "cif.setSessionTitle", { input: jsonInput(input) }, shape.none);
    },
    updateContext(input, sessionId, isDelete) {
      if (isBlank(input)) return reject("updateContext", "The input parameter is blank. Provide a value to the parameter.");
      const params = { input: jsonInput(input) };
      if (!isBlank(sessionId)) params.sessionId = sessionId;
      if (isDelete) params.isDelete = true;
      return send("updateContext", "cif.updateContext", params, shape.str);
    },
  };
}
