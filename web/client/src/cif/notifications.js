// notifications.js: Microsoft.CIFramework's CIF 2.0 notification and
// session-indicator methods (notifyEvent, cancelEvent, notifyKpiBreach,
// notifyNewActivity). notifyEvent waits for the agent: CIF posts it without
// a timer, so there is no client timer either.

import { jsonInput } from "./input.js";

/** @param {{send: Function, reject: Function, shape: any, isBlank: Function}} ctx */
export function notifications({ send, reject, shape, isBlank }) {
  return {
    notifyEvent(input, correlationId, cancellationToken) {
      if (isBlank(input)) return reject("notifyEvent", "The input parameter is blank. Provide a value to the parameter.");
      const params = { input: jsonInput(input) };
      if (!isBlank(cancellationToken)) params.cancellationToken = String(cancellationToken);
      return send("notifyEvent", "cif.notifyEvent", params, shape.str, { timeoutMs: null });
    },
    cancelEvent(cancellationToken) {
      if (isBlank(cancellationToken)) {
        return reject("cancelEvent", "The cancellationToken parameter is blank. Provide a value to the parameter.");
      }
      return send("cancelEvent", "cif.cancelEvent", { cancellationToken: String(cancellationToken) }, shape.str);
    },
    notifyKpiBreach(sessionId, shouldReset, details) {
      if (isBlank(sessionId)) return reject("notifyKpiBreach", "The SessionId parameter is blank. Provide a value to the parameter.");
      const params = { sessionId };
      if (shouldReset) params.shouldReset = true;
      if (!isBlank(details)) params.details = String(details);
      return send("notifyKpiBreach", "cif.notifyKpiBreach", params, shape.none);
    },
    notifyNewActivity(sessionId, count) {
      if (isBlank(sessionId)) return reject("notifyNewActivity", "The SessionId parameter is blank. Provide a value to the parameter.");
      if (typeof count !== "number" || !(count >= 0)) {
        return reject("notifyNewActivity", "The count parameter must be a number greater than or equal to 0.");
      }
      return send("notifyNewActivity", "cif.notifyNewActivity", { sessionId, count }, shape.none);
    },
  };
}
