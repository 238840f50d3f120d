// input.js: CIF 2.0 methods take "JSON input": an object (whose Map
// members, like createTab's appContext, become plain objects) or a JSON
// string, which the bridge accepts as it is.

/** The input as the bridge takes it: a string as is, Maps as objects. */
export function jsonInput(input) {
  if (typeof input === "string") return input;
  return plainify(input);
}

function plainify(v) {
  if (v instanceof Map) {
    const o = {};
    for (const [k, x] of v) o[String(k)] = plainify(x);
    return o;
  }
  if (Array.isArray(v)) return v.map(plainify);
  if (v && typeof v === "object") {
    const o = {};
    for (const [k, x] of Object.entries(v)) o[k] = plainify(x);
    return o;
  }
  return v;
}
