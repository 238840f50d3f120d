// harness.js: what the browser tests share (imported, not a test itself):
// the decision to run or skip, building and starting the real daemon, a
// Chromium launcher, a TCP proxy that can drop connections like a server
// would, and small polling helpers.
//
// The browser is Debian's chromium driven by playwright-core
// (executablePath /usr/bin/chromium, or $CHROMIUM_PATH). When chromium (or
// playwright-core, or go) is missing the tests are skipped with a message,
// unless CIFBRIDGE_REQUIRE_BROWSER is set (CI sets it): then they fail.

import { spawn, execFile } from "node:child_process";
import { before, after } from "node:test";
import { existsSync, mkdtempSync, rmSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import net from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const here = path.dirname(fileURLToPath(import.meta.url));
/** The repository root (web/test/browser/../../..). */
export const repoRoot = path.resolve(here, "../../..");
/** Where screenshots go: <repo>/test-artifacts (gitignored). */
export const artifactsDir = path.join(repoRoot, "test-artifacts");

export const chromiumPath = process.env.CHROMIUM_PATH || "/usr/bin/chromium";
const required = !!process.env.CIFBRIDGE_REQUIRE_BROWSER;

export const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
];

let playwright = null;
try {
  playwright = await import("playwright-core");
} catch {
  playwright = null;
}

function goAvailable() {
  try {
    return !!process.env.PATH?.split(path.delimiter).some((d) => existsSync(path.join(d, "go")));
  } catch {
    return false;
  }
}

/**
 * Why the browser tests cannot run here, or "" when they can. With
 * CIFBRIDGE_REQUIRE_BROWSER set a reason is an error thrown at import, so
 * the run fails loudly instead of skipping.
 */
export const skipReason = (() => {
  let why = "";
  if (!existsSync(chromiumPath)) {
    why =
      `chromium not found at ${chromiumPath}. ` +
      "Install it (Debian/Ubuntu: apt-get install -y chromium) or set CHROMIUM_PATH.";
  } else if (!playwright) {
    why = "playwright-core is not installed: run `npm ci` in web/ first.";
  } else if (!goAvailable()) {
    why = "go is not on PATH: the browser tests build the real daemon with `go build`.";
  }
  if (why && required) {
    throw new Error("CIFBRIDGE_REQUIRE_BROWSER is set but the browser tests cannot run: " + why);
  }
  if (why) process.stderr.write("# browser tests skipped: " + why + " (set CIFBRIDGE_REQUIRE_BROWSER=1 to make this a failure)\n");
  return why;
})();

const exec = promisify(execFile);
let built = null;

/** Builds ./cmd/cifbridge once per test process; resolves with the binary's path. */
export function buildDaemon() {
  if (!built) {
    built = (async () => {
      const dir = mkdtempSync(path.join(tmpdir(), "cifbridge-web-"));
      process.on("exit", () => rmSync(dir, { recursive: true, force: true }));
      const bin = path.join(dir, "cifbridge");
      await exec("go", ["build", "-o", bin, "./cmd/cifbridge"], { cwd: repoRoot, timeout: 300_000 });
      return bin;
    })();
  }
  return built;
}

const live = new Set();
process.on("exit", () => {
  for (const p of live) p.kill("SIGKILL");
});

/**
 * Starts `cifbridge serve` on 127.0.0.1:0 with a temporary --data-dir and
 * JSON logs; resolves once it logged its URLs.
 * @param {string[]} [args] extra flags, e.g. ["--cif-timeout", "1s"]
 * @returns {Promise<{base: string, ws: string, pid: number, logs: string[], stop: () => Promise<void>}>}
 */
export async function startDaemon(args = []) {
  const bin = await buildDaemon();
  const dataDir = mkdtempSync(path.join(tmpdir(), "cifbridge-data-"));
  const proc = spawn(
    bin,
    ["serve", "--listen", "127.0.0.1:0", "--data-dir", dataDir, "--log-format", "json", ...args],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  live.add(proc);
  const logs = [];
  let exited = false;
  const exitP = new Promise((resolve) => proc.once("exit", (code, sig) => {
    exited = true;
    live.delete(proc);
    resolve({ code, sig });
  }));
  const urls = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("cifbridge did not log its URL within 20 s:\n" + logs.join("\n"))), 20_000);
    let buf = "";
    proc.stderr.setEncoding("utf8");
    proc.stderr.on("data", (chunk) => {
      buf += chunk;
      let i;
      while ((i = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        logs.push(line);
        if (logs.length > 2000) logs.shift();
        try {
          const rec = JSON.parse(line);
          if (rec.widget) {
            clearTimeout(timer);
            resolve({ ws: rec.widget, base: rec.widget.replace(/^ws/, "http").replace(/\/v1\/widget$/, "") });
          }
        } catch {
          /* not a JSON line */
        }
      }
    });
    exitP.then(({ code, sig }) => {
      clearTimeout(timer);
      reject(new Error(`cifbridge exited (${code ?? sig}) before serving:\n` + logs.join("\n")));
    });
  });
  return {
    ...urls,
    pid: proc.pid,
    logs,
    async stop() {
      if (!exited) {
        proc.kill("SIGTERM");
        const t = setTimeout(() => proc.kill("SIGKILL"), 8000);
        await exitP;
        clearTimeout(t);
      }
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Launches headless Chromium. */
export function launchBrowser() {
  return playwright.chromium.launch({ executablePath: chromiumPath, args: CHROMIUM_ARGS, timeout: 30_000 });
}

/**
 * Gives the calling describe a daemon started with args (startDaemon) and a
 * browser (launchBrowser): its before hook starts both, its after hook
 * closes the browser and stops the daemon. The returned object's daemon
 * and browser are set once the before hook has run.
 * @param {string[]} [args] extra flags for the daemon
 * @returns {{daemon: Awaited<ReturnType<typeof startDaemon>> | undefined, browser: import("playwright-core").Browser | undefined}}
 */
export function daemonAndBrowser(args = []) {
  const env = { daemon: undefined, browser: undefined };
  before(async () => {
    env.daemon = await startDaemon(args);
    env.browser = await launchBrowser();
  }, { timeout: 120_000 });
  after(async () => {
    await env.browser?.close();
    await env.daemon?.stop();
  });
  return env;
}

/** Opens a page that fails the test on uncaught page errors (collected in page.errors). */
export async function newPage(browser, opts) {
  const page = await browser.newPage(opts);
  page.errors = [];
  page.on("pageerror", (err) => page.errors.push(err));
  page.setDefaultTimeout(15_000);
  return page;
}

/**
 * Opens url (a page that installs the client, such as the sample softphone)
 * in a new page (newPage) and waits until its window.cifbridge is connected.
 */
export async function openConnected(browser, url) {
  const page = await newPage(browser);
  await page.goto(url);
  await page.waitForFunction(() => window.cifbridge && window.cifbridge.connected);
  return page;
}

/** Everything a sample page logged (its #log list is newest first), in order. */
export const logText = (page) => page.evaluate(() => [...document.querySelectorAll("#log li")].map((li) => li.textContent).reverse());

/**
 * A TCP proxy to target ("127.0.0.1:port") whose dropAll() destroys every
 * proxied connection, which the browser sees as the server dropping the
 * socket (close code 1006).
 */
export async function startProxy(target) {
  const [host, port] = [target.slice(0, target.lastIndexOf(":")), Number(target.slice(target.lastIndexOf(":") + 1))];
  const pairs = new Set();
  const server = net.createServer((down) => {
    const up = net.connect(port, host);
    const pair = [down, up];
    pairs.add(pair);
    down.pipe(up);
    up.pipe(down);
    const end = () => {
      pairs.delete(pair);
      down.destroy();
      up.destroy();
    };
    down.on("error", end).on("close", end);
    up.on("error", end).on("close", end);
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    address: "127.0.0.1:" + server.address().port,
    connections: () => pairs.size,
    dropAll() {
      const n = pairs.size;
      for (const [down, up] of [...pairs]) {
        down.resetAndDestroy ? down.resetAndDestroy() : down.destroy();
        up.destroy();
      }
      return n;
    },
    close() {
      this.dropAll();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

/** JSON over the daemon's admin API; resolves {status, body}. */
export async function adminJSON(base, method, p, body) {
  // The bridge refuses a state change without a JSON body (cross-site guard).
  if (body === undefined && method !== "GET") body = {};
  const res = await fetch(base + p, {
    method,
    headers: body === undefined ? {} : { "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(15_000),
  });
  const text = await res.text();
  let parsed = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    parsed = text;
  }
  return { status: res.status, body: parsed };
}

/** Polls fn until it returns a truthy value; rejects with msg after timeoutMs. */
export async function waitFor(fn, msg, timeoutMs = 10_000, everyMs = 100) {
  const end = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (err) {
      last = err;
    }
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${msg}; last: ${last instanceof Error ? last.message : JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Makes sure test-artifacts/ exists and returns the path of a file in it. */
export function artifact(name) {
  mkdirSync(artifactsDir, { recursive: true });
  return path.join(artifactsDir, name);
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** CIF's timeout text (cifbridge.js TIMEOUT_MESSAGE). */
export const TIMEOUT_MESSAGE = "Timeout occurred as no response was received from listener window";
