// The client as an npm package (client/package.json): `npm pack` makes a
// tarball with exactly the client's files; installed from that tarball and
// from the checkout folder into a temporary project, it type-checks a usage
// file (types-check/*.ts) and imports in Node through its exports map.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync, readFileSync, copyFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const exec = promisify(execFile);
const webDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const clientDir = path.join(webDir, "client");
const tsc = path.join(webDir, "node_modules", ".bin", "tsc");
const pkg = JSON.parse(readFileSync(path.join(clientDir, "package.json"), "utf8"));
const quiet = ["--no-audit", "--no-fund", "--loglevel=error", "--offline"];

let tmp, tarball;

before(async () => {
  tmp = mkdtempSync(path.join(tmpdir(), "cifbridge-pack-"));
  const { stdout } = await exec("npm", ["pack", "--json", "--pack-destination", tmp], { cwd: clientDir });
  const [info] = JSON.parse(stdout);
  tarball = path.join(tmp, info.filename);
  packed = info.files.map((f) => f.path).sort();
});
after(() => rmSync(tmp, { recursive: true, force: true }));

let packed = [];

// A temporary project with the package installed from spec.
async function project(name, spec) {
  const dir = path.join(tmp, name);
  await exec("mkdir", ["-p", dir]);
  writeFileSync(path.join(dir, "package.json"), JSON.stringify({ name, private: true, type: "module" }));
  await exec("npm", ["install", ...quiet, spec], { cwd: dir });
  return dir;
}

// Node code run inside dir: imports the package by name, as a user would.
const IMPORTS = `
  const m = await import("cifbridge-client");
  const r = await import("cifbridge-client/recorder");
  let deep = "";
  try { await import("cifbridge-client/src/transport.js"); } catch (e) { deep = e.code; }
  console.log(JSON.stringify({
    version: m.VERSION, connect: typeof m.connect, install: typeof m.install, Client: typeof m.Client,
    error: new m.CifBridgeError(m.ErrorCode.Timeout, "x").code, recorder: typeof r.createRecorder, deep,
  }));`;

async function importIn(dir) {
  const { stdout } = await exec(process.execPath, ["--input-type=module", "-e", IMPORTS], { cwd: dir });
  return JSON.parse(stdout);
}

test("npm pack ships the client's files and nothing else", () => {
  for (const f of ["LICENSE", "README.md", "package.json", "cifbridge.js", "cifbridge.d.ts", "recorder.js", "recorder.d.ts", "src/transport.js", "src/cif/index.js"]) {
    assert.ok(packed.includes(f), `tarball lacks ${f}: ${packed.join(", ")}`);
  }
  for (const f of packed) {
    assert.match(f, /^(LICENSE|README\.md|package\.json|cifbridge\.(js|d\.ts)|recorder\.(js|d\.ts)|src\/.+\.js)$/, `unexpected file in the tarball: ${f}`);
  }
});

test("package.json is publishable: licence, repository, exports with types first, version = VERSION", async () => {
  assert.equal(pkg.license, "Apache-2.0");
  assert.equal(pkg.private, undefined);
  assert.match(pkg.repository.url, /github\.com\/cifbridge\/cifbridge/);
  assert.equal(pkg.repository.directory, "web/client");
  for (const [sub, target] of Object.entries(pkg.exports)) {
    if (typeof target === "object") assert.equal(Object.keys(target)[0], "types", `exports["${sub}"]: "types" must come first`);
  }
  const { VERSION } = await import("../client/src/version.js");
  assert.equal(VERSION, pkg.version, "client/src/version.js and client/package.json disagree");
  const web = JSON.parse(readFileSync(path.join(webDir, "package.json"), "utf8"));
  assert.equal(web.license, pkg.license);
  assert.equal(
    readFileSync(path.join(clientDir, "LICENSE"), "utf8"),
    readFileSync(path.join(webDir, "..", "LICENSE"), "utf8"),
    "web/client/LICENSE must be a copy of the root LICENSE",
  );
});

test("installed from the tarball: the usage files type-check and Node imports it", async () => {
  const dir = await project("from-tarball", tarball);
  for (const f of ["usage.ts", "recorder-usage.ts"]) copyFileSync(path.join(webDir, "types-check", f), path.join(dir, f));
  const tsconfig = (files) => ({
    compilerOptions: { target: "ES2022", module: "NodeNext", moduleResolution: "NodeNext", lib: ["ES2022", "DOM"], strict: true, noEmit: true, skipLibCheck: false, types: [] },
    files,
  });
  writeFileSync(path.join(dir, "tsconfig.json"), JSON.stringify(tsconfig(["usage.ts", "recorder-usage.ts"])));
  await exec(tsc, ["-p", "tsconfig.json"], { cwd: dir }).catch((e) => assert.fail("tsc against the installed package failed:\n" + e.stdout + e.stderr));
  // A wrong use must fail, or the check above proves nothing.
  writeFileSync(path.join(dir, "wrong.ts"), 'import { connect } from "cifbridge-client";\nexport const n: number = connect("ws://x");\n');
  writeFileSync(path.join(dir, "tsconfig.wrong.json"), JSON.stringify(tsconfig(["wrong.ts"])));
  await assert.rejects(exec(tsc, ["-p", "tsconfig.wrong.json"], { cwd: dir }), (e) => /TS2322/.test(e.stdout));

  const got = await importIn(dir);
  assert.deepEqual(got, {
    version: pkg.version, connect: "function", install: "function", Client: "function",
    error: -32000, recorder: "function", deep: "ERR_PACKAGE_PATH_NOT_EXPORTED",
  });
});

test("installed from a git checkout (the web/client folder): Node imports it", async () => {
  const dir = await project("from-checkout", clientDir);
  const got = await importIn(dir);
  assert.equal(got.version, pkg.version);
  assert.equal(got.connect, "function");
  assert.equal(got.recorder, "function");
});
