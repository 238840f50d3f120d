// index.js: Microsoft.CIFramework = the areas below, in this order. To add
// methods, write an area module (a function (ctx) → {method: fn}; see
// surface.js for ctx) and list it here; the .d.ts (client/cifbridge.d.ts)
// declares each method.

import { defineSurface } from "./surface.js";
import { records } from "./records.js";
import { forms } from "./forms.js";
import { panel } from "./panel.js";
import { handlers } from "./handlers.js";
import { sessions } from "./sessions.js";
import { tabs } from "./tabs.js";
import { notifications } from "./notifications.js";
import { presence } from "./presence.js";
import { conversation } from "./conversation.js";

/** Every area of Microsoft.CIFramework, in the order their methods appear. */
export const CIF_AREAS = Object.freeze([records, forms, panel, handlers, sessions, tabs, notifications, presence, conversation]);

/** Microsoft.CIFramework for client. */
export function makeCIFramework(client) {
  return defineSurface(client, CIF_AREAS);
}

export { cifErrorString } from "./surface.js";
