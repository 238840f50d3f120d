// panel.js: Microsoft.CIFramework's panel and click-to-act methods
// (setClickToAct, getClickToAct, setMode, getMode, setWidth, getWidth).

/** @param {{send: Function, reject: Function, shape: any}} ctx */
export function panel({ send, reject, shape }) {
  return {
    setClickToAct(value) {
      return send("setClickToAct", "cif.setclicktoact", { value: !!value }, shape.none);
    },
    getClickToAct() {
      return send("getClickToAct", "cif.getclicktoact", {}, shape.plain);
    },
    setMode(value) {
      if (!(value === 0 || value === 1 || value === 2)) {
        return reject("setMode", "The setMode paramter value must be 0, 1 or 2.");
      }
      return send("setMode", "cif.setmode", { value }, shape.none);
    },
    getMode() {
      return send("getMode", "cif.getmode", {}, shape.plain);
    },
    setWidth(value) {
      if (typeof value !== "number" || !(value >= 0)) {
        return reject("setWidth", "The setWidth parameter value is invalid. Provide a positive number to the parameter.");
      }
      return send("setWidth", "cif.setwidth", { value }, shape.none);
    },
    getWidth() {
      return send("getWidth", "cif.getwidth", {}, shape.plain);
    },
  };
}
