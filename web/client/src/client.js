// client.js: Client = the JSON-RPC connection (transport.js) with the API
// surfaces a widget calls: Microsoft.CIFramework (cif/) and Enreach.API
// (enreach.js).

import { Connection } from "./transport.js";
import { makeCIFramework } from "./cif/index.js";
import { makeEnreachAPI } from "./enreach.js";

/**
 * One widget session on the bridge. It is an EventTarget: "open", "close",
 * "reconnecting", "sessionlost", "late", "ledger", "notification",
 * "rpcerror", "handlererror".
 */
export class Client extends Connection {
  /**
   * @param {string|(() => string|Promise<string>)} url
   * @param {object} [options] see ConnectOptions in cifbridge.d.ts
   */
  constructor(url, options) {
    super(url, options);
    this.CIFramework = makeCIFramework(this);
    this.Enreach = { API: makeEnreachAPI(this) };
  }
}
