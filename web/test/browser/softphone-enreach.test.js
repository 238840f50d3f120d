// The sample softphone's Enreach side in headless Chromium, on the
// zero-config daemon: no --enreach-url, so the daemon answers
// Enreach.API.executeQuery and setANumber from its embedded Enreach REST
// emulator (docs/enreach-emulator.md). The page shows the agent from
// executeQuery("/users/me", null) and sets the next call's caller ID with
// setANumber; the emulator's ground truth (GET /api/v1/enreach-emulator/stats,
// and a call placed through its admin API) must have seen each call, and
// every failure must show on the page in words.

import { describe, it } from "node:test";
import assert from "node:assert/strict";

import { skipReason, startDaemon, daemonAndBrowser, newPage, openConnected, adminJSON, artifact, logText } from "./harness.js";

// The emulator's built-in user (docs/enreach-emulator.md).
const USER_ID = "6f1c5d2e-8a43-4b7e-9c1d-2e5f7a9b0c31";
const ACTIVATE = "POST /users/{userId}/features/cli/activate/";

describe("softphone with Enreach on the zero-config daemon", { skip: skipReason || false, timeout: 180_000 }, () => {
  const env = daemonAndBrowser();
  const stats = async () => {
    const r = await adminJSON(env.daemon.base, "GET", "/api/v1/enreach-emulator/stats");
    assert.equal(r.status, 200, JSON.stringify(r.body));
    return r.body;
  };
  const faults = async (rules) => {
    const r = await adminJSON(env.daemon.base, "PUT", "/api/v1/enreach-emulator/faults", { rules });
    assert.equal(r.status, 200, JSON.stringify(r.body));
  };
  const open = () => openConnected(env.browser, env.daemon.base + "/examples/softphone.html");

  it("shows the agent from executeQuery('/users/me', null), and the emulator saw the query", { timeout: 30_000 }, async () => {
    const before = (await stats()).requests["GET /users/me"] || 0;
    const page = await open();
    await page.locator("[data-testid=agent][data-state=ok]").waitFor();
    assert.equal(await page.getByTestId("agent").textContent(), "Ada Agentagent@example.com");
    assert.deepEqual(await page.evaluate(() => window.softphone.agent.Id), USER_ID);
    assert.ok((await logText(page)).some((l) => l.endsWith("signed in to Enreach as Ada Agent")));
    const after = (await stats()).requests["GET /users/me"] || 0;
    assert.ok(after > before, `GET /users/me: ${before} before the page, ${after} after`);
    assert.deepEqual(page.errors.map(String), []);
    await page.close();
  });

  it("Set calls setANumber before dialling: the emulator keeps it for the next call only, the page says so", { timeout: 30_000 }, async () => {
    assert.equal((await adminJSON(env.daemon.base, "POST", "/api/v1/enreach-emulator/reset")).status < 300, true);
    const page = await open();
    await page.getByTestId("anumber").fill("+358401112222");
    await page.getByTestId("anumber-set").click();
    await page.locator("[data-testid=cli-status][data-state=ok]").filter({ hasText: "the next call shows +358401112222" }).waitFor();
    const s = await stats();
    assert.equal(s.requests[ACTIVATE], 1, JSON.stringify(s.requests));
    assert.equal(s.nextCallANumbers[USER_ID].number, "+358401112222");

    // Dialling uses it up at the page, as Enreach does at its end.
    await page.getByTestId("number").fill("+358400000000");
    await page.getByTestId("call").click();
    await page.getByTestId("cli-status").filter({ hasText: "+358401112222 was shown to +358400000000; the next call shows your own number" }).waitFor();
    assert.ok((await logText(page)).some((l) => l.endsWith("calling +358400000000 as +358401112222")));
    assert.equal(await page.evaluate(() => window.softphone.calls.at(-1).aNumber), "+358401112222");
    // The emulator's own record of the next call carries the A-number; the call after it does not.
    const placed = await adminJSON(env.daemon.base, "POST", "/api/v1/enreach-emulator/calls", { to: "+358400000000" });
    assert.equal(placed.status, 201, JSON.stringify(placed.body));
    assert.equal(placed.body.ANumber, "+358401112222");
    const next = await adminJSON(env.daemon.base, "POST", "/api/v1/enreach-emulator/calls", { to: "+358400000000" });
    assert.equal(next.body.ANumber, "");
    assert.deepEqual(page.errors.map(String), []);
    await page.close();
  });

  it("refusals show on the page: an empty field, a malformed number, an Enreach error", { timeout: 30_000 }, async () => {
    const page = await open();
    await page.locator("[data-testid=agent][data-state=ok]").waitFor();
    const calls = async () => (await stats()).requests[ACTIVATE] || 0;
    const before = await calls();
    const status = page.locator("[data-testid=cli-status][data-state=error]");

    await page.getByTestId("anumber-set").click();
    await status.filter({ hasText: "enter the number callees should see" }).waitFor();

    await page.getByTestId("anumber").fill("12ab");
    await page.getByTestId("anumber-set").click();
    await status.filter({ hasText: /caller ID not set: .*must be a phone number like \+358401234567/ }).waitFor();
    assert.equal(await calls(), before, "a malformed number never reaches Enreach");

    await faults([{ method: "POST", path: "/users/*", status: 503 }]);
    try {
      await page.getByTestId("anumber").fill("+358401112222");
      await page.getByTestId("anumber-set").click();
      await status.filter({ hasText: /caller ID not set: .*503/ }).waitFor();
      const s = await stats();
      assert.ok(s.injectedErrors >= 1, JSON.stringify(s));
      assert.equal(await page.evaluate(() => window.softphone.aNumber), null, "a failed Set leaves no caller ID");
    } finally {
      await faults([]);
    }
    assert.ok((await logText(page)).some((l) => /setANumber \+358401112222 failed: .*503/.test(l)));
    await page.screenshot({ path: artifact("softphone-enreach-error.png") });
    assert.deepEqual(page.errors.map(String), []);
    await page.close();
  });

  it("an Enreach error on /users/me shows in the agent line", { timeout: 30_000 }, async () => {
    await faults([{ method: "GET", path: "/users/me", status: 503 }]);
    try {
      const page = await open();
      await page.locator("[data-testid=agent][data-state=error]").filter({ hasText: /Enreach user unknown: .*503/ }).waitFor();
      assert.equal(await page.getByTestId("call").isDisabled(), false, "the softphone still works without Enreach");
      assert.deepEqual(page.errors.map(String), []);
      await page.close();
    } finally {
      await faults([]);
    }
  });

  it("with the emulator off and no --enreach-url, the agent line says there is no Enreach", { timeout: 60_000 }, async () => {
    const off = await startDaemon(["--enreach-emulator=false"]);
    try {
      const page = await newPage(env.browser);
      await page.goto(off.base + "/examples/softphone.html");
      await page.locator("[data-testid=agent][data-state=error]").waitFor();
      const text = await page.getByTestId("agent").textContent();
      assert.match(text, /^Enreach user unknown: .*\(-32002\)$/, text);
      await page.getByTestId("anumber").fill("+358401112222");
      await page.getByTestId("anumber-set").click();
      await page.locator("[data-testid=cli-status][data-state=error]").filter({ hasText: /caller ID not set: .*\(-32002\)/ }).waitFor();
      assert.deepEqual(page.errors.map(String), []);
      await page.close();
    } finally {
      await off.stop();
    }
  });
});
