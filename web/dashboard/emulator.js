// emulator.js: the embedded Dataverse emulator's fault profile (a JSON
// editor: validate here with the daemon's rules, apply with PUT
// /api/v1/emulator/faults) and its ground-truth stats (GET
// /api/v1/emulator/stats every 2 s). With --backend host there is no
// emulator (404) and the panels say so.

import { api, ApiError } from "./api.js";
import { h, setMsg, setText, syncRows, fmtInt } from "./dom.js";

const $ = (id) => document.getElementById(id);

// Mirrors bridge/emulator/faults.go (FaultProfile.Validate).
const METHODS = [
  "*", "createrecord", "retrieverecord", "updaterecord", "deleterecord", "search", "searchandopenrecords",
  "getenvironment", "getentitymetadata", "setclicktoact", "getclicktoact", "setmode", "getmode",
  "setwidth", "getwidth", "openform", "refreshform", "rendersearchpage", "execute",
];
const RULE_FIELDS = ["method", "entity", "latencyMs", "latency", "ratio", "count", "error", "drop"];
const DIST_FIELDS = ["kind", "minMs", "maxMs", "meanMs", "stddevMs"];
const MAX_MS = 3_600_000;

const TEMPLATES = {
  slowcreate: { method: "createrecord", latencyMs: 1500, count: 1 },
  dropcreate: { method: "createrecord", drop: true, count: 1 },
  error503: { method: "createrecord", ratio: 0.2, error: { status: 503, code: "0x80072321", message: "Service unavailable (injected)" } },
  jitter: { method: "*", latency: { kind: "uniform", minMs: 50, maxMs: 400 } },
};

/**
 * Checks a fault profile text as the daemon would; returns the profile or
 * throws an Error whose message names the field.
 * @param {string} text
 */
export function validateFaults(text) {
  let p;
  try {
    p = JSON.parse(text);
  } catch (err) {
    throw new Error("not JSON: " + err.message);
  }
  const isInt = (v) => Number.isInteger(v);
  if (!p || typeof p !== "object" || Array.isArray(p)) throw new Error('the profile must be an object {"seed":…,"rules":[…]}');
  for (const k of Object.keys(p)) if (k !== "seed" && k !== "rules") throw new Error(`unknown field "${k}" (allowed: seed, rules)`);
  if (p.seed !== undefined && !isInt(p.seed)) throw new Error("seed must be an integer");
  if (p.rules !== undefined && p.rules !== null && !Array.isArray(p.rules)) throw new Error("rules must be an array");
  (p.rules || []).forEach((r, i) => {
    const w = `rules[${i}]`;
    if (!r || typeof r !== "object" || Array.isArray(r)) throw new Error(`${w} must be an object`);
    for (const k of Object.keys(r)) if (!RULE_FIELDS.includes(k)) throw new Error(`${w}: unknown field "${k}" (allowed: ${RULE_FIELDS.join(", ")})`);
    if (!r.method) throw new Error(`${w}.method is required (a CIF messageType like "createrecord", or "*")`);
    if (typeof r.method !== "string" || !METHODS.includes(r.method.toLowerCase())) throw new Error(`${w}.method "${r.method}" is not a known method (one of ${METHODS.join(", ")})`);
    if (r.entity !== undefined && typeof r.entity !== "string") throw new Error(`${w}.entity must be a logical name`);
    if (r.latencyMs !== undefined && (!isInt(r.latencyMs) || r.latencyMs < 0 || r.latencyMs > MAX_MS)) throw new Error(`${w}.latencyMs must be an integer between 0 and ${MAX_MS}`);
    if (r.latency !== undefined && r.latency !== null) {
      const d = r.latency;
      if (typeof d !== "object") throw new Error(`${w}.latency must be an object`);
      for (const k of Object.keys(d)) if (!DIST_FIELDS.includes(k)) throw new Error(`${w}.latency: unknown field "${k}"`);
      for (const k of ["minMs", "maxMs", "meanMs", "stddevMs"]) {
        if (d[k] !== undefined && (typeof d[k] !== "number" || d[k] < 0 || d[k] > MAX_MS)) throw new Error(`${w}.latency.${k} must be between 0 and ${MAX_MS}`);
      }
      const min = d.minMs || 0, max = d.maxMs || 0;
      if (d.kind === "uniform" && max < min) throw new Error(`${w}.latency.maxMs (${max}) must be >= minMs (${min})`);
      else if (d.kind === "normal" && max > 0 && max < min) throw new Error(`${w}.latency.maxMs (${max}) must be >= minMs (${min})`);
      else if (d.kind === "exponential" && !(d.meanMs > 0)) throw new Error(`${w}.latency.meanMs must be > 0 for kind "exponential"`);
      else if (!["uniform", "normal", "exponential"].includes(d.kind)) throw new Error(`${w}.latency.kind must be "uniform", "normal" or "exponential"`);
    }
    if (r.ratio !== undefined && r.ratio !== null && (typeof r.ratio !== "number" || r.ratio < 0 || r.ratio > 1)) throw new Error(`${w}.ratio must be between 0 and 1`);
    if (r.count !== undefined && (!isInt(r.count) || r.count < 0)) throw new Error(`${w}.count must be an integer >= 0 (0 = unlimited)`);
    if (r.drop !== undefined && typeof r.drop !== "boolean") throw new Error(`${w}.drop must be true or false`);
    if (r.error !== undefined && r.error !== null) {
      const e = r.error;
      if (r.drop) throw new Error(`${w}: error and drop exclude each other`);
      if (typeof e !== "object") throw new Error(`${w}.error must be an object {status, code, message}`);
      for (const k of Object.keys(e)) if (!["status", "code", "message"].includes(k)) throw new Error(`${w}.error: unknown field "${k}"`);
      if (!isInt(e.status) || e.status < 400 || e.status > 599) throw new Error(`${w}.error.status must be an HTTP error status 400..599`);
      if (!e.code || typeof e.code !== "string") throw new Error(`${w}.error.code is required (a Dataverse hex code like "0x80040216")`);
      if (!e.message || typeof e.message !== "string") throw new Error(`${w}.error.message is required`);
    }
  });
  return p;
}

export function initEmulator() {
  const editor = $("faults");
  let dirty = false;
  let absent = false;
  editor.addEventListener("input", () => {
    dirty = true;
    editor.removeAttribute("aria-invalid");
  });

  const msg = (text, tone) => setMsg($("faults-msg"), text, tone);

  function summary(p) {
    const n = (p.rules || []).length;
    return n === 0 ? "no fault rules: the emulator answers at once" : `${n} rule${n === 1 ? "" : "s"} active (seed ${p.seed ?? 0})`;
  }

  async function load(force) {
    try {
      const p = await api("/api/v1/emulator/faults");
      absent = false;
      if (force || !dirty) {
        editor.value = JSON.stringify(p, null, 2);
        dirty = false;
        msg(summary(p), (p.rules || []).length ? "warn" : "");
      }
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) {
        absent = true;
        editor.value = "";
        editor.disabled = true;
        for (const id of ["faults-validate", "faults-apply", "faults-reload", "faults-clear", "fault-template", "emu-reset"]) $(id).disabled = true;
        msg("no emulator: this cifbridge runs another backend");
      } else msg("faults: " + err.message, "bad");
    }
  }

  function validate() {
    try {
      const p = validateFaults(editor.value);
      editor.removeAttribute("aria-invalid");
      return p;
    } catch (err) {
      editor.setAttribute("aria-invalid", "true");
      msg(err.message, "bad");
      return null;
    }
  }

  async function apply(p) {
    try {
      const got = await api("/api/v1/emulator/faults", { method: "PUT", body: p });
      editor.value = JSON.stringify(got, null, 2);
      dirty = false;
      msg("applied: " + summary(got), "ok");
    } catch (err) {
      editor.setAttribute("aria-invalid", "true");
      msg("refused: " + err.message, "bad");
    }
  }

  $("faults-validate").addEventListener("click", () => {
    const p = validate();
    if (p) msg("valid: " + summary(p) + " (not applied yet)", "ok");
  });
  $("faults-apply").addEventListener("click", () => {
    const p = validate();
    if (p) apply(p);
  });
  $("faults-reload").addEventListener("click", () => load(true));
  $("faults-clear").addEventListener("click", () => {
    let seed = 0;
    try {
      seed = JSON.parse(editor.value).seed || 0;
    } catch {
      /* keep 0 */
    }
    apply({ seed, rules: [] });
  });
  $("fault-template").addEventListener("change", (e) => {
    const t = TEMPLATES[e.target.value];
    e.target.value = "";
    if (!t) return;
    let p;
    try {
      p = JSON.parse(editor.value || "{}");
    } catch (err) {
      msg("fix the JSON before inserting a rule: " + err.message, "bad");
      return;
    }
    p.rules = [...(p.rules || []), structuredClone(t)];
    editor.value = JSON.stringify(p, null, 2);
    dirty = true;
    msg("rule added to the editor: Apply to use it", "warn");
  });
  $("emu-reset").addEventListener("click", async () => {
    if (!confirm("Empty the emulator's store and counters?")) return;
    try {
      await api("/api/v1/emulator/reset", { method: "POST", body: {} }); // JSON: the bridge refuses state changes without it (cross-site guard)
      statsMsg("store reset", "ok");
      stats();
    } catch (err) {
      statsMsg("reset: " + err.message, "bad");
    }
  });

  function statsMsg(text, tone = "") {
    const el = $("stats-msg");
    el.className = "msg" + (tone ? " " + tone : "");
    setText(el, text);
  }

  let statsTimer = null;
  async function stats() {
    clearTimeout(statsTimer);
    if (!absent) {
      try {
        renderStats(await api("/api/v1/emulator/stats"));
        if ($("stats-msg").classList.contains("bad")) statsMsg("");
      } catch (err) {
        if (err instanceof ApiError && err.status === 404) {
          absent = true;
          statsMsg("no emulator: this cifbridge runs another backend");
        } else statsMsg("stats: " + err.message, "bad");
      }
    }
    statsTimer = setTimeout(stats, 2000);
  }

  function renderStats(s) {
    const ops = Object.entries(s.operations || {}).sort((a, b) => a[0].localeCompare(b[0]));
    const total = ops.reduce((n, [, v]) => n + v, 0);
    const counters = [
      ["operations", total, ""],
      ["late completions", s.lateCompletions, s.lateCompletions > 0 ? "warn" : ""],
      ["faults applied", s.faultsApplied, ""],
      ["delayed", s.delayed, ""],
      ["injected errors", s.injectedErrors, s.injectedErrors > 0 ? "bad" : ""],
      ["dropped", s.dropped, s.dropped > 0 ? "bad" : ""],
    ];
    const grid = $("stats-counters");
    if (!grid.children.length) {
      for (const [label] of counters) grid.append(h("div", { class: "stat" }, h("span", { class: "label" }, label), h("span", { class: "value num" })));
    }
    counters.forEach(([, v, tone], i) => {
      const box = grid.children[i];
      if ((box.dataset.tone || "") !== tone) box.dataset.tone = tone;
      setText(box.querySelector(".value"), fmtInt(v || 0));
    });
    const pair = (cols) => ({
      cols: 2,
      key: (e) => e[0],
      create: (e) => h("tr", { dataset: { testid: "stat-" + e[0] } }, h("td", { class: "mono" }, e[0]), h("td", { class: "r" })),
      update: (row, e) => {
        setText(row.lastChild, fmtInt(e[1]));
        row.classList.toggle("zero", !e[1]);
        row.lastChild.classList.toggle("zero", !e[1]);
      },
      empty: cols,
    });
    syncRows($("stats-ops"), ops, pair("no operations yet"));
    const tables = Object.entries(s.tables || {}).map(([k, v]) => [k, v.records]).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
    syncRows($("stats-tables"), tables, pair("no tables"));
  }

  load(false);
  stats();
  // Another operator may change the profile: refresh it while not editing.
  setInterval(() => !dirty && !absent && load(false), 5000);
}
