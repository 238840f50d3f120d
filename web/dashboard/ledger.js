// ledger.js: the duplicate ledger (DESIGN §5): GET /api/v1/ledger with
// status and session filters, polled every 3 s, and POST
// /api/v1/ledger/{id}/acknowledge. A daemon without the ledger (404) shows
// "ledger not available" and is asked again every 15 s.

import { api, ApiError, errorMessage, latest } from "./api.js";
import { h, setMsg, cells, setText, syncRows, shortId, fmtClock, fmtInt } from "./dom.js";

const $ = (id) => document.getElementById(id);

// Statuses of bridge/ledger: suspected → confirmed | cleared | expired-unknown,
// resolved (idempotent create), acknowledged (by an operator).
const TONES = { suspected: "warn", confirmed: "bad", "expired-unknown": "bad", cleared: "ok", resolved: "ok", acknowledged: "" };
const OPEN = ["suspected", "confirmed", "expired-unknown"];
const POLL_MS = 3000;
const ABSENT_POLL_MS = 15_000;

// The entry fields, whatever the exact names the ledger REST settles on.
const pick = (e, ...names) => {
  for (const n of names) if (e[n] !== undefined && e[n] !== null && e[n] !== "") return e[n];
  return undefined;
};
const entryId = (e) => String(pick(e, "id", "ledgerId") ?? "");
const isAcked = (e) => e.status === "acknowledged" || !!pick(e, "acknowledged", "acknowledgedAt");
function recordIds(e) {
  const r = pick(e, "recordIds", "records", "ids");
  if (Array.isArray(r)) return r.map((x) => (typeof x === "object" && x ? x.id || x.recordId || JSON.stringify(x) : String(x)));
  if (Array.isArray(e.attempts)) return e.attempts.map((a) => a && (a.recordId || a.id)).filter(Boolean);
  if (e.recordId) return [e.recordId];
  return [];
}
function entries(data) {
  if (Array.isArray(data)) return data;
  if (data && typeof data === "object") {
    for (const k of ["entries", "items", "ledger", "results"]) if (Array.isArray(data[k])) return data[k];
  }
  return [];
}
const isOpen = (e) => OPEN.includes(e.status) && !isAcked(e);

/**
 * @param {{onOpenCount: (n: number|undefined) => void}} hooks
 */
export function initLedger(hooks) {
  const filter = { status: "", session: "" };
  let timer = null;
  const request = latest();

  for (const chip of $("ledger-filters").querySelectorAll(".chip")) {
    chip.addEventListener("click", () => {
      filter.status = chip.dataset.status;
      for (const c of $("ledger-filters").querySelectorAll(".chip")) c.setAttribute("aria-pressed", String(c === chip));
      refresh();
    });
  }
  let debounce = null;
  $("ledger-session").addEventListener("input", (e) => {
    clearTimeout(debounce);
    debounce = setTimeout(() => {
      filter.session = e.target.value.trim();
      refresh();
    }, 250);
  });

  const msg = (text, tone) => setMsg($("ledger-msg"), text, tone);

  async function refresh() {
    clearTimeout(timer);
    const signal = request.start();
    const q = new URLSearchParams({ limit: "200" });
    if (filter.status) q.set("status", filter.status);
    if (filter.session) q.set("session", filter.session);
    let next = POLL_MS;
    try {
      const [list, all] = await Promise.all([
        api("/api/v1/ledger?" + q, { signal }),
        filter.status || filter.session ? api("/api/v1/ledger?limit=1000", { signal }) : null,
      ]);
      const shown = entries(list);
      render(shown);
      showTotals(list && list.totals);
      hooks.onOpenCount(entries(all || list).filter(isOpen).length);
      const open = shown.filter(isOpen).length;
      msg(shown.length ? `${shown.length} entr${shown.length === 1 ? "y" : "ies"}` + (open ? `, ${open} need${open === 1 ? "s" : ""} attention` : "") : "", open ? "warn" : "");
    } catch (err) {
      if (err && err.name === "AbortError") return;
      if (err instanceof ApiError && err.status === 404) {
        render(null);
        showTotals(null);
        hooks.onOpenCount(undefined);
        msg("ledger not available: this cifbridge has no ledger API (GET /api/v1/ledger answered 404)");
        next = ABSENT_POLL_MS;
      } else {
        msg("ledger: " + errorMessage(err), "bad");
      }
    }
    timer = setTimeout(refresh, next);
  }

  // The whole ledger's duplicate counters, as the bridge defines them
  // (GET /api/v1/ledger's totals; the same as cifbridge_duplicates_*_total).
  function showTotals(t) {
    const el = $("ledger-totals");
    if (!t || typeof t.suspected !== "number") {
      setText(el, "");
      return;
    }
    setText(el, `ever suspected ${fmtInt(t.suspected)} · confirmed ${fmtInt(t.confirmed)}`);
  }

  function render(list) {
    syncRows($("ledger"), list || [], {
      cols: 7,
      empty: list === null ? "ledger not available" : filter.status || filter.session ? "No entries match the filter" : "No ledger entries: no create has been duplicated",
      key: entryId,
      create: (e) =>
        h(
          "tr",
          {},
          h("td", { class: "mono", title: entryId(e) }, shortId(entryId(e), 12)),
          ...cells("status", "mono session", "entity", "mono records", "r when", "r action"),
        ),
      update: (row, e) => {
        const td = (c) => row.querySelector("." + c);
        const status = String(e.status || "unknown");
        const tone = isAcked(e) ? "" : TONES[status] || "";
        const key = status + "|" + tone;
        if (td("status").dataset.k !== key) {
          td("status").dataset.k = key;
          td("status").replaceChildren(h("span", { class: "badge " + tone, dataset: { testid: "ledger-status" } }, status));
        }
        const session = String(pick(e, "session", "sessionId") ?? "–");
        setText(td("session"), shortId(session, 14));
        td("session").title = session;
        setText(td("entity"), pick(e, "entityType", "entity", "entityLogicalName") ?? "–");
        const ids = recordIds(e);
        setText(td("records"), ids.length ? ids.map((x) => shortId(x, 8)).join(", ") : "–");
        td("records").title = ids.join("\n");
        const when = pick(e, "updated", "updatedAt", "created", "createdAt", "time");
        setText(td("when"), when ? fmtClock(when) : "–");
        td("when").title = when ? new Date(when).toLocaleString() : "";
        const action = td("action");
        const want = isOpen(e) ? "ack" : isAcked(e) ? "acked" : "none";
        if (action.dataset.k !== want) {
          action.dataset.k = want;
          action.replaceChildren(
            want === "ack"
              ? h("button", { type: "button", class: "ack", dataset: { testid: "ack" }, onclick: (ev) => acknowledge(ev.currentTarget, entryId(e)) }, "Acknowledge")
              : want === "acked"
                ? h("span", { class: "muted" }, "✓ acknowledged")
                : "",
          );
        }
        const note = [e.method, e.key && "key " + e.key, e.note].filter(Boolean).join("\n");
        if (row.title !== note) row.title = note;
      },
    });
  }

  async function acknowledge(btn, id) {
    btn.disabled = true;
    try {
      await api(`/api/v1/ledger/${encodeURIComponent(id)}/acknowledge`, { method: "POST", body: { note: "acknowledged from the dashboard" } });
      msg("acknowledged " + id, "ok");
    } catch (err) {
      btn.disabled = false;
      msg("acknowledge " + id + ": " + err.message, "bad");
    }
    refresh();
  }

  refresh();
  return { refresh };
}
