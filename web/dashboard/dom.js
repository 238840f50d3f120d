// dom.js: small DOM helpers for the dashboard: element creation, keyed row
// updates that keep rows (and so the layout) in place, number formatting.

/**
 * Creates an element: h("td", {class: "num", title: "x"}, "text", child…).
 * Attributes starting with "on" become listeners; "dataset" takes an object.
 */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else if (k === "dataset") Object.assign(el.dataset, v);
    else if (k in el && typeof v !== "string") el[k] = v;
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
  return el;
}

/** Empty cells, one per class list, for a row's update to fill. */
export const cells = (...classes) => classes.map((c) => h("td", { class: c }));

/** Shows text in a panel's message line, toned "ok", "warn", "bad" or "". */
export function setMsg(el, text, tone = "") {
  el.className = "msg" + (tone ? " " + tone : "");
  setText(el, text);
}

/** Sets text only when it changed (no needless layout work). */
export function setText(el, text) {
  const s = String(text);
  if (el.textContent !== s) el.textContent = s;
}

/**
 * Keeps tbody's rows in step with items, keyed by key(item): existing rows are
 * updated in place, new ones created, gone ones removed, order follows items.
 * When items is empty, one placeholder row spanning `cols` columns says
 * `empty`.
 * @template T
 * @param {HTMLElement} tbody
 * @param {T[]} items
 * @param {{key: (t: T) => string, create: (t: T) => HTMLElement, update: (row: HTMLElement, t: T) => void, empty: string, cols: number}} spec
 */
export function syncRows(tbody, items, spec) {
  const old = new Map();
  for (const row of [...tbody.children]) {
    if (row.dataset.key !== undefined) old.set(row.dataset.key, row);
    else row.remove();
  }
  if (items.length === 0) {
    for (const row of old.values()) row.remove();
    tbody.append(h("tr", { class: "empty" }, h("td", { colSpan: spec.cols }, spec.empty)));
    return;
  }
  let prev = null;
  for (const item of items) {
    const k = spec.key(item);
    let row = old.get(k);
    if (row) old.delete(k);
    else {
      row = spec.create(item);
      row.dataset.key = k;
    }
    spec.update(row, item);
    const want = prev ? prev.nextSibling : tbody.firstChild;
    if (want !== row) tbody.insertBefore(row, want);
    prev = row;
  }
  for (const row of old.values()) row.remove();
}

const nf = new Intl.NumberFormat("en-US");

/** 12345 → "12,345". */
export const fmtInt = (n) => (typeof n === "number" && isFinite(n) ? nf.format(n) : "–");

/** Milliseconds as "850 ms", "4.2 s", "3m 05s", "2h 10m". */
export function fmtMs(ms) {
  if (typeof ms !== "number" || !isFinite(ms)) return "–";
  if (ms < 1000) return Math.max(0, Math.round(ms)) + " ms";
  if (ms < 60_000) return (ms / 1000).toFixed(1) + " s";
  const s = Math.floor(ms / 1000);
  if (s < 3600) return Math.floor(s / 60) + "m " + String(s % 60).padStart(2, "0") + "s";
  return Math.floor(s / 3600) + "h " + String(Math.floor((s % 3600) / 60)).padStart(2, "0") + "m";
}

/** Seconds with one decimal, always the same width for a countdown: "  9.4 s". */
export const fmtCountdown = (ms) => (Math.max(0, ms) / 1000).toFixed(1) + " s";

/** A time as HH:MM:SS (local). */
export function fmtClock(t) {
  const d = t instanceof Date ? t : new Date(t);
  if (isNaN(d)) return "–";
  return d.toLocaleTimeString("en-GB", { hour12: false });
}

/** A shortened id for tables; the full id is in the title. */
export function shortId(id, n = 10) {
  const s = String(id ?? "");
  return s.length > n + 1 ? s.slice(0, n) + "…" : s;
}

/** Pretty JSON for display. */
export function pretty(v) {
  if (typeof v === "string") {
    try {
      return JSON.stringify(JSON.parse(v), null, 2);
    } catch {
      return v;
    }
  }
  return JSON.stringify(v, null, 2);
}
