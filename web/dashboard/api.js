// api.js: the dashboard's access to the daemon's admin API. A token given
// as ?token= in the page URL is sent as "Authorization: Bearer" on fetch and
// as ?access_token= on the event stream (EventSource cannot set headers).

const token = new URLSearchParams(location.search).get("token") || "";

/** An HTTP answer that is not 2xx. status 0: the daemon could not be reached. */
export class ApiError extends Error {
  constructor(status, message, body) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.body = body;
  }
}

/** The text of a failure for a message line. */
export const errorMessage = (err) => (err && err.message ? err.message : String(err));

/**
 * One request at a time: start() aborts the request started before (its api
 * call rejects with an AbortError) and returns the new one's signal;
 * abort() aborts it without starting another.
 */
export function latest() {
  let ctl = null;
  return {
    start() {
      if (ctl) ctl.abort();
      ctl = new AbortController();
      return ctl.signal;
    },
    abort() {
      if (ctl) ctl.abort();
      ctl = null;
    },
  };
}

/**
 * Calls the admin API and resolves with the parsed JSON body (null for an
 * empty body). Rejects with ApiError, whose message is the bridge's error
 * text when it sent one.
 * @param {string} path e.g. "/api/v1/sessions"
 * @param {{method?: string, body?: unknown, signal?: AbortSignal}} [opts]
 */
export async function api(path, opts = {}) {
  const headers = { Accept: "application/json" };
  if (token) headers.Authorization = "Bearer " + token;
  let body;
  if (opts.body !== undefined) {
    headers["Content-Type"] = "application/json";
    body = typeof opts.body === "string" ? opts.body : JSON.stringify(opts.body);
  }
  let res;
  try {
    res = await fetch(path, { method: opts.method || "GET", headers, body, signal: opts.signal, cache: "no-store" });
  } catch (err) {
    if (err && err.name === "AbortError") throw err;
    throw new ApiError(0, "cifbridge is not reachable", null);
  }
  const text = await res.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = text;
    }
  }
  if (!res.ok) throw new ApiError(res.status, errorText(res, data), data);
  return data;
}

function errorText(res, data) {
  if (data && typeof data === "object" && data.error) {
    const e = data.error;
    if (typeof e === "string") return e;
    if (e.message) return e.message;
  }
  if (typeof data === "string" && data.trim()) return data.trim();
  return res.status + " " + res.statusText;
}

/** The URL of an event stream under the admin API, with the token. */
export function streamURL(path) {
  if (!token) return path;
  return path + (path.includes("?") ? "&" : "?") + "access_token=" + encodeURIComponent(token);
}

/** url with the page's ?token= added, for links to pages that take one. */
export function withToken(url) {
  if (!token) return url;
  return url + (url.includes("?") ? "&" : "?") + "token=" + encodeURIComponent(token);
}

/** True when the page was opened with ?token=. */
export const hasToken = token !== "";
