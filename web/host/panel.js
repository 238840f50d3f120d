// panel.js: the communication panel on the right of the main window, where
// the widget lives in an iframe. It obeys setMode (0 minimized, 1 docked,
// 2 hidden) and setWidth, and reports the user's own changes (the buttons,
// the width field, dragging the edge) to onUserChange, which raises
// onmodechanged / onsizechanged. The iframe is never removed or reloaded by
// a mode change: a minimized or hidden widget keeps running, as in Dynamics.

export const MODES = Object.freeze({ minimized: 0, docked: 1, hidden: 2 });
const MODE_NAMES = ["minimized", "docked", "hidden"];
const MIN_WIDTH = 160;
const MAX_WIDTH = 1200;

export class Panel {
  /**
   * @param {HTMLElement} root the <aside> holding the panel
   * @param {{onUserChange: (change: {mode?: number, width?: number}) => void}} o
   */
  constructor(root, o) {
    this.root = root;
    this.o = o;
    this.mode = 1;
    this.width = 320;
    this.frame = root.querySelector("iframe");
    this.widthInput = root.querySelector("[data-testid=panel-width]");
    this.restore = document.querySelector("[data-testid=panel-restore]");
    for (const btn of root.querySelectorAll("[data-mode]")) {
      btn.addEventListener("click", () => this.user({ mode: MODES[btn.dataset.mode] }));
    }
    this.restore.addEventListener("click", () => this.user({ mode: MODES.docked }));
    this.widthInput.addEventListener("change", () => {
      const w = Number(this.widthInput.value);
      if (Number.isFinite(w) && w >= 0) this.user({ width: w });
      else this.widthInput.value = String(this.width);
    });
    this.dragging(root.querySelector(".panel-edge"));
    this.render();
  }

  /** Applies a mode (from setMode): no event. */
  setMode(mode) {
    if (mode === 0 || mode === 1 || mode === 2) {
      this.mode = mode;
      this.render();
    }
  }

  /** Applies a width (from setWidth): no event. */
  setWidth(width) {
    if (typeof width === "number" && width >= 0) {
      this.width = width;
      this.render();
    }
  }

  user(change) {
    if ("mode" in change && change.mode === this.mode) return;
    if ("width" in change && change.width === this.width) return;
    if ("mode" in change) this.setMode(change.mode);
    if ("width" in change) this.setWidth(change.width);
    this.o.onUserChange(change);
  }

  render() {
    const r = this.root;
    r.dataset.mode = MODE_NAMES[this.mode];
    const shown = Math.max(MIN_WIDTH, Math.min(MAX_WIDTH, this.width));
    r.style.width = this.mode === 1 ? shown + "px" : "";
    r.hidden = this.mode === 2;
    this.restore.hidden = this.mode !== 2;
    this.widthInput.value = String(this.width);
    for (const btn of r.querySelectorAll("[data-mode]")) {
      btn.setAttribute("aria-pressed", String(MODES[btn.dataset.mode] === this.mode));
    }
  }

  /** Dragging the left edge changes the width; one onsizechanged when the drag ends. */
  dragging(edge) {
    if (!edge) return;
    edge.addEventListener("pointerdown", (down) => {
      if (this.mode !== 1) return;
      edge.setPointerCapture(down.pointerId);
      const startX = down.clientX;
      const startW = this.width;
      this.frame.style.pointerEvents = "none";
      const move = (ev) => {
        this.width = Math.round(Math.max(MIN_WIDTH, Math.min(MAX_WIDTH, startW + (startX - ev.clientX))));
        this.render();
      };
      const up = () => {
        edge.removeEventListener("pointermove", move);
        edge.removeEventListener("pointerup", up);
        this.frame.style.pointerEvents = "";
        if (this.width !== startW) this.o.onUserChange({ width: this.width });
      };
      edge.addEventListener("pointermove", move);
      edge.addEventListener("pointerup", up);
    });
  }
}
