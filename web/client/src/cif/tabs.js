// tabs.js: Microsoft.CIFramework's CIF 2.0 application tab methods
// (createTab, focusTab, getFocusedTab, getTabs, refreshTab, setTabTitle,
// closeTab). They act on the focused session.

import { jsonInput } from "./input.js";

/** @param {{send: Function, reject: Function, shape: any, isBlank: Function}} ctx */
export function tabs({ send, reject, shape, isBlank }) {
  const blankTab = (api) => reject(api, "The TabId parameter is blank. Provide a value to the parameter.");
  return {
    createTab(input) {
      if (isBlank(input)) return reject("createTab", "The input parameter is blank. Provide a value to the parameter.");
      return send("createTab", "cif.createTab", { input: jsonInput(input) }, shape.plain);
    },
    focusTab(tabId) {
      if (isBlank(tabId)) return blankTab("focusTab");
      return send("focusTab", "cif.focusTab", { tabId }, shape.none);
    },
    getFocusedTab() {
      return send("getFocusedTab", "cif.getFocusedTab", {}, shape.plain);
    },
    getTabs(name, tag) {
      const params = {};
      if (!isBlank(name)) params.templateName = name;
      if (!isBlank(tag)) params.templateTag = tag;
      return send("getTabs", "cif.getTabs", params, shape.plain);
    },
    refreshTab(tabId) {
      if (isBlank(tabId)) return blankTab("refreshTab");
      return send("refreshTab", "cif.refreshTab", { tabId }, shape.none);
    },
    setTabTitle(tabId, input) {
      if (isBlank(tabId)) return blankTab("setTabTitle");
      if (isBlank(input)) return reject("setTabTitle", "The input parameter is blank. Provide a value to the parameter.");
      return send("setTabTitle", "cif.setTabTitle", { tabId, input: jsonInput(input) }, shape.plain);
    },
    closeTab(tabId) {
      if (isBlank(tabId)) return blankTab("closeTab");
      return send("closeTab", "cif.closeTab", { tabId }, shape.none);
    },
  };
}
