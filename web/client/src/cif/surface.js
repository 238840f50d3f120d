// surface.js: what every area of Microsoft.CIFramework shares: the call
// helper that turns bridge errors into CIF's JSON strings, client-side
// validation rejections, result shapes, and defineSurface, which joins the
// areas' methods into one object.

import { ErrorCode, TIMEOUT_MESSAGE } from "../errors.js";

/** True for the values CIF treats as a missing parameter. */
export function isBlank(v) {
  return v === null || v === undefined || v === "";
}

/**
 * The CIF-shaped JSON string a Microsoft.CIFramework call rejects with, for a
 * CifBridgeError err of api apiName.
 */
export function cifErrorString(err, apiName) {
  const data = err && err.data && typeof err.data === "object" ? err.data : null;
  switch (err && err.code) {
    case ErrorCode.Timeout:
      return JSON.stringify({ message: TIMEOUT_MESSAGE });
    case ErrorCode.Backend:
      if (data && data.value !== undefined) return JSON.stringify({ value: data.value });
      // CIF 2.0 host errors (the agent workspace): {"message","msdyn_name"}.
      if (data && data.msdyn_name !== undefined) return JSON.stringify({ message: data.message, msdyn_name: data.msdyn_name });
      return JSON.stringify({
        value: {
          errorMsg: (data && data.errorMsg) || err.message,
          sourceFunc: apiName,
          errorType: 2,
          reportTime: new Date().toUTCString(),
        },
      });
    case ErrorCode.InvalidParams:
      return JSON.stringify({ message: err.message, msdyn_name: apiName });
    default:
      // No stock-CIF counterpart (connection lost, no backend, overloaded, …):
      // CIF's {"message","msdyn_name"} shape plus the code.
      return JSON.stringify({ message: err ? err.message : "error", msdyn_name: apiName, code: err && err.code });
  }
}

/** Result shapes: how a bridge result becomes what the CIF method resolves. */
export const shape = Object.freeze({
  /** CIF resolves a JSON string. */
  str: (v) => JSON.stringify(v === undefined ? null : v),
  /** CIF resolves the value itself. */
  plain: (v) => (v === undefined ? null : v),
  /** CIF resolves nothing. */
  none: () => undefined,
});

/**
 * The helpers an area receives (see defineSurface):
 *   client                       the Client (addHandler, call, …)
 *   send(api, method, params, shape, opts?)
 *                                one cif.* call; a failure rejects with the CIF
 *                                string, after setting client.lastError and
 *                                dispatching "rpcerror"; opts.timeoutMs null =
 *                                no client timer (CIF's noTimeout calls)
 *   reject(api, message)         a client-side validation failure
 *   shape, isBlank
 */
function areaContext(client) {
  const send = (apiName, method, params, resultShape, opts) =>
    client.call(method, params, opts).then(resultShape, (err) => {
      client.lastError = err;
      client.dispatchEvent(new CustomEvent("rpcerror", { detail: { api: apiName, method, error: err } }));
      throw cifErrorString(err, apiName);
    });
  const reject = (apiName, message) => Promise.reject(JSON.stringify({ message, msdyn_name: apiName }));
  return { client, send, reject, shape, isBlank };
}

/**
 * Builds Microsoft.CIFramework for client from areas: each area is a
 * function (ctx) → {methodName: fn, …}. Two areas defining the same method is
 * a programming error and throws, so a new area cannot silently replace one.
 * @param {object} client
 * @param {ReadonlyArray<(ctx: object) => Record<string, Function>>} areas
 */
export function defineSurface(client, areas) {
  const ctx = areaContext(client);
  const surface = {};
  for (const area of areas) {
    for (const [name, fn] of Object.entries(area(ctx))) {
      if (Object.hasOwn(surface, name)) {
        throw new Error(`cifbridge: Microsoft.CIFramework.${name} is defined by two areas (${area.name})`);
      }
      surface[name] = fn;
    }
  }
  return surface;
}
