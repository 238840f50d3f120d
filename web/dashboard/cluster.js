// cluster.js: the dashboard of a cluster node (its stream snapshot names
// the node). Every 2 s GET /api/v1/sessions gathers every node's sessions
// (each with its node) and names the nodes that did not answer; the nodes
// panel shows each node (backend, version, sessions, answering or
// missing, last seen) and the session list adds the other nodes' sessions
// to this node's live ones.

import { api } from "./api.js";
import { h, setText, fmtInt, fmtMs, fmtClock } from "./dom.js";

const $ = (id) => document.getElementById(id);
const POLL_MS = 2000;

/**
 * @param {{onChange: () => void, now: () => Date}} hooks onChange after each
 *   gather (the session list re-renders); now is the server's time.
 */
export function initCluster(hooks) {
  const state = { node: "", list: null, error: "", timer: null };

  async function poll() {
    clearTimeout(state.timer);
    try {
      state.list = await api("/api/v1/sessions");
      state.error = "";
    } catch (err) {
      state.error = err.message;
    }
    render();
    hooks.onChange();
    state.timer = setTimeout(poll, POLL_MS);
  }

  /** The nodes of the last gather: those that answered, then the missing ones as last heard. */
  function nodes() {
    const l = state.list;
    if (!l) return [];
    const heard = new Map((l.missingNodes || []).map((n) => [n.node, n]));
    return [
      ...(l.nodes || []).map((n) => ({ ...n, answering: true })),
      ...(l.missing || []).map((name) => ({ ...(heard.get(name) || { node: name }), answering: false })),
    ];
  }

  function render() {
    const msg = $("nodes-msg");
    setText(msg, state.error ? "could not list the cluster's sessions: " + state.error : "");
    msg.className = "msg" + (state.error ? " bad" : "");
    const l = state.list;
    if (!l) return;
    const missing = (l.missing || []).length;
    setText(
      $("nodes-hint"),
      `${fmtInt((l.nodes || []).length)} answering` + (missing ? ` · ${fmtInt(missing)} missing` : "") + ` · asked within ${fmtMs(l.timeoutMs)}`,
    );
    const now = hooks.now();
    $("nodes").replaceChildren(
      ...nodes().map((n) => {
        const seen = n.lastSeen ? new Date(n.lastSeen) : null;
        const ago = seen && !n.answering ? " (" + fmtMs(now - seen) + " ago)" : "";
        return h(
          "li",
          { class: "node", dataset: { key: n.node, state: n.answering ? "answering" : "missing", testid: "node" } },
          h(
            "div",
            { class: "node-head" },
            h("span", { class: "node-id" }, n.node),
            h("span", { class: "badge " + (n.answering ? "ok" : "bad") }, n.answering ? "answering" : "missing"),
            n.node === state.node ? h("span", { class: "badge info" }, "this node") : null,
          ),
          h(
            "dl",
            {},
            h("dt", {}, "backend"),
            h("dd", { class: "backend" }, n.backend || "–"),
            h("dt", {}, "version"),
            h("dd", { class: "version" }, n.version || "–"),
            h("dt", {}, "sessions"),
            h("dd", { class: "sessions" }, typeof n.sessions === "number" ? fmtInt(n.sessions) : "–"),
            h("dt", {}, "last seen"),
            h("dd", { class: "seen", title: seen ? seen.toISOString() : "" }, seen ? fmtClock(seen) + ago : "never"),
          ),
        );
      }),
    );
  }

  return {
    /** This node's id: "" until enable. */
    node: () => state.node,
    /** Starts the cluster view once the stream names this node. */
    enable(node) {
      if (state.node) return;
      state.node = node;
      $("nodes-panel").hidden = false;
      poll();
    },
    /** The other nodes' sessions of the last gather, each with its node. */
    remote: () => (state.list ? (state.list.sessions || []).filter((s) => s.node !== state.node) : []),
    /** Nodes that did not answer the last gather. */
    missing: () => (state.list ? state.list.missing || [] : []),
  };
}
