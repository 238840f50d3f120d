// presence.js: Microsoft.CIFramework's CIF 2.0 agent presence methods
// (setPresence, getPresence, setAgentPresence, initializeAgentPresenceList).

import { jsonInput } from "./input.js";

/** @param {{send: Function, reject: Function, shape: any, isBlank: Function}} ctx */
export function presence({ send, reject, shape, isBlank }) {
  return {
    setPresence(presenceText) {
      if (isBlank(presenceText)) return reject("setPresence", "The presenceText parameter is blank. Provide a value to the parameter.");
      return send("setPresence", "cif.setPresence", { presenceText: String(presenceText) }, shape.plain);
    },
    getPresence() {
      return send("getPresence", "cif.getPresence", {}, shape.str);
    },
    setAgentPresence(presenceInfo) {
      if (isBlank(presenceInfo)) return reject("setAgentPresence", "The presenceInfo parameter is blank. Provide a value to the parameter.");
      return send("setAgentPresence", "cif.setAgentPresence", { presenceInfo: jsonInput(presenceInfo) }, shape.plain);
    },
    initializeAgentPresenceList(presenceList) {
      if (isBlank(presenceList)) {
        return reject("initializeAgentPresenceList", "The presenceList parameter is blank. Provide a value to the parameter.");
      }
      return send("initializeAgentPresenceList", "cif.initializeAgentPresenceList", { presenceList: jsonInput(presenceList) }, shape.plain);
    },
  };
}
