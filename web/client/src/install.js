// install.js: the entry points: connect() opens a Client, install() also
// puts it on window as Microsoft.CIFramework and Enreach.API and dispatches
// CIFInitDone, as msdyn_ciLibrary.js does.

import { Client } from "./client.js";

/**
 * Connects to a cifbridge /v1/widget endpoint. Resolves once bridge.hello is
 * answered (retrying the connection with backoff until then); rejects if the
 * bridge refuses the hello or maxRetries is exhausted.
 * @param {string|(() => string|Promise<string>)} url
 * @param {object} [options]
 * @returns {Promise<Client>}
 */
export function connect(url, options) {
  const client = new Client(url, options);
  client._start();
  return client.ready();
}

/**
 * Connects and installs window.Microsoft.CIFramework and window.Enreach.API,
 * then dispatches CIFInitDone on window (detail: [bridge origin]).
 * @param {object} options ConnectOptions plus url
 * @returns {Promise<Client>}
 */
export async function install(options) {
  const { url, window: win = globalThis.window, ...rest } = options || {};
  if (!url) throw new TypeError("cifbridge.install: options.url is required");
  if (!win) throw new TypeError("cifbridge.install: no window");
  const client = await connect(url, rest);
  client._window = win;
  win.Microsoft = win.Microsoft || {};
  win.Microsoft.CIFramework = client.CIFramework;
  win.Enreach = win.Enreach || {};
  win.Enreach.API = client.Enreach.API;
  win.cifbridge = client;
  let origin = "";
  try {
    const u = new URL(typeof url === "string" ? url : "", win.location && win.location.href);
    origin = u.protocol.replace("ws", "http") + "//" + u.hostname;
  } catch {
    /* url is a function, or unparsable */
  }
  // Like msdyn_ciLibrary.js: asynchronously, after the library is in place.
  setTimeout(() => win.dispatchEvent(new CustomEvent("CIFInitDone", { detail: origin ? [origin] : [] })), 0);
  return client;
}
