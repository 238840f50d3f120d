// conversation.js: Microsoft.CIFramework's remaining CIF 2.0 methods:
// notes (insertNotes, no timer: it waits for the agent), conversation and
// analytics (updateConversation, initLogAnalytics, logAnalyticsEvent),
// raiseEvent (to the widget's own handlers), isConsoleApp and
// openKBSearchControl.

import { jsonInput } from "./input.js";

/** @param {{send: Function, reject: Function, shape: any, isBlank: Function}} ctx */
export function conversation({ send, reject, shape, isBlank }) {
  return {
    insertNotes(entityName, entitySetName, entityId, annotationId) {
      if (isBlank(entityName)) return reject("insertNotes", "The EntityName parameter is blank. Provide a value to the parameter.");
      if (isBlank(entityId)) return reject("insertNotes", "The EntityId parameter is blank. Provide a value to the parameter.");
      const params = { entityName, entityId };
      if (!isBlank(entitySetName)) params.entitySetName = entitySetName;
      if (!isBlank(annotationId)) params.annotationId = annotationId;
      return send("insertNotes", "cif.insertNotes", params, shape.str, { timeoutMs: null });
    },
    updateConversation(id, data) {
      if (isBlank(id)) return reject("updateConversation", "The id parameter is blank. Provide a value to the parameter.");
      if (isBlank(data)) return reject("updateConversation", "The data parameter is blank. Provide a value to the parameter.");
      return send("updateConversation", "cif.updateConversation", { id, data: jsonInput(data) }, shape.str);
    },
    initLogAnalytics(data) {
      if (isBlank(data)) return reject("initLogAnalytics", "The data parameter is blank. Provide a value to the parameter.");
      return send("initLogAnalytics", "cif.initLogAnalytics", { data: jsonInput(data) }, shape.str);
    },
    logAnalyticsEvent(data, eventName) {
      if (isBlank(data)) return reject("logAnalyticsEvent", "The data parameter is blank. Provide a value to the parameter.");
      if (isBlank(eventName)) return reject("logAnalyticsEvent", "The eventName parameter is blank. Provide a value to the parameter.");
      return send("logAnalyticsEvent", "cif.logAnalyticsEvent", { data: jsonInput(data), eventName }, shape.str);
    },
    raiseEvent(eventName, eventInputParameters) {
      if (isBlank(eventName)) return reject("raiseEvent", "The EventName parameter is blank. Provide a value to the parameter.");
      const params = { eventName };
      if (eventInputParameters !== undefined) params.eventInputParameters = jsonInput(eventInputParameters);
      return send("raiseEvent", "cif.raiseEvent", params, shape.plain);
    },
    isConsoleApp() {
      return send("isConsoleApp", "cif.isConsoleApp", {}, shape.plain);
    },
    openKBSearchControl(searchString) {
      if (searchString === null || searchString === undefined) {
        return reject("openKBSearchControl", "The searchString parameter cannot be NULL");
      }
      return send("openKBSearchControl", "cif.openKBSearchControl", { searchString: String(searchString) }, shape.plain);
    },
  };
}
