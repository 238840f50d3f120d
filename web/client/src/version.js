// version.js: the client's version, in step with client/package.json and the
// daemon's release (a test checks the two files agree).

export const VERSION = "0.1.0";
