// The dashboard at / in headless Chromium against the real daemon (3 s CIF
// timeout, so in-flight countdowns and late records stay on screen long
// enough to see): it shows the softphone's session live, raises an event
// to it, shows a duplicate-ledger entry made by a retried create and
// acknowledges it, validates and applies fault rules. Screenshots (light and
// dark) go to test-artifacts/.

import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";

import { skipReason, startDaemon, launchBrowser, newPage, adminJSON, waitFor, sleep, artifact } from "./harness.js";

describe("dashboard in Chromium", { skip: skipReason || false, timeout: 180_000 }, () => {
  let daemon, browser, widget, dash, session, ledgerAvailable;

  before(async () => {
    daemon = await startDaemon(["--cif-timeout", "3s"]);
    browser = await launchBrowser();
    widget = await newPage(browser);
    await widget.goto(daemon.base + "/examples/softphone.html");
    await widget.waitForFunction(() => window.cifbridge && window.cifbridge.connected);
    session = await widget.evaluate(() => window.cifbridge.session);
    dash = await newPage(browser, { viewport: { width: 1440, height: 1080 }, colorScheme: "light" });
    await dash.goto(daemon.base + "/");
    ledgerAvailable = (await adminJSON(daemon.base, "GET", "/api/v1/ledger?limit=1")).status !== 404;
  }, { timeout: 120_000 });

  after(async () => {
    for (const p of [dash, widget]) if (p) assert.deepEqual(p.errors.map(String), [], "uncaught errors in " + p.url());
    await browser?.close();
    await daemon?.stop();
  });

  it("shows the widget's session live", { timeout: 20_000 }, async () => {
    await dash.locator("#live[data-state=live]").waitFor();
    const row = dash.locator(`#sessions tr[data-key="${session}"]`);
    await row.waitFor();
    assert.match(await row.innerText(), /softphone-example\/1/);
    assert.match(await row.innerText(), /cif1 · 3\.0 s/);
    assert.equal((await dash.getByTestId("k-sessions").innerText()).trim(), "1");
    // The event form picked the only connected session.
    assert.equal(await dash.getByTestId("ev-session").inputValue(), session);
  });

  it("raises onclicktoact from the form and shows the widget's answer", { timeout: 20_000 }, async () => {
    await dash.getByTestId("ev-type").selectOption("onclicktoact");
    const data = JSON.parse(await dash.getByTestId("ev-data").inputValue());
    assert.equal(data.format, "phone");
    await dash.getByTestId("ev-send").click();
    await dash.locator("#ev-answer[data-state=ok]").waitFor();
    const body = await dash.locator("#ev-body").innerText();
    // The widget answered a JSON string; the panel shows it parsed and indented.
    assert.deepEqual(JSON.parse(body), { accepted: true, number: data.value });
    // The softphone took the call (its create finishes before we set faults).
    await widget.getByTestId("phase").filter({ hasText: /connected|failed/ }).waitFor();

    // Bad JSON never leaves the page.
    await dash.getByTestId("ev-data").fill("{not json");
    await dash.getByTestId("ev-send").click();
    await dash.locator("#ev-data[aria-invalid=true]").waitFor();
    await dash.getByTestId("ev-type").selectOption("onmodechanged");
    assert.equal(await dash.locator("#ev-data[aria-invalid=true]").count(), 0);
  });

  it("shows in-flight countdowns, late records and the ledger entry of a retried create; acknowledges it", { timeout: 60_000 }, async (t) => {
    const put = await adminJSON(daemon.base, "PUT", "/api/v1/emulator/faults", {
      seed: 7,
      rules: [
        { method: "createrecord", entity: "phonecall", latencyMs: 4000, count: 1 },
        // the first stays late for a while, the second is in flight at the screenshot
        { method: "createrecord", entity: "account", latencyMs: 12000, count: 1 },
        { method: "createrecord", entity: "account", latencyMs: 6000, count: 1 },
      ],
    });
    assert.equal(put.status, 200, JSON.stringify(put.body));
    await dash.locator("#faults-reload").click();

    // A create that times out once and is retried: a possible duplicate. A
    // slow account create goes late meanwhile.
    await widget.evaluate(() => {
      window.__dup = window.Enreach.API.Xrm.createRecord("phonecall", { subject: "retried create" }, 3, 200).then(
        (r) => ({ ok: r }),
        (e) => ({ err: { code: e.code, message: e.message } }),
      );
      window.__acc1 = window.Microsoft.CIFramework.createRecord("account", JSON.stringify({ name: "Slow Ltd" })).catch((e) => e);
    });
    // Both attempts are in flight and counting down on the dashboard.
    await waitFor(async () => (await dash.locator("#inflight tr[data-key]").count()) >= 2, "two in-flight rows");
    const txt = await dash.locator("#inflight tr[data-key] .left .txt").first().innerText();
    assert.match(txt, /^\d\.\d s$/, "countdown text " + txt);

    const dup = await widget.evaluate(() => window.__dup);
    if (dup.err && dup.err.code === -32601) {
      t.diagnostic("enreach.xrm.* not served: no ledger entry can be made");
    } else {
      assert.ok(dup.ok, JSON.stringify(dup));
      assert.equal(dup.ok.attempts, 2);
      if (ledgerAvailable) {
        assert.equal(dup.ok.possibleDuplicate, true);
        assert.ok(dup.ok.ledgerId);
      }
    }
    // The account create is late now.
    await dash.locator("#late tr[data-key]").first().waitFor();

    if (ledgerAvailable && dup.ok) {
      const row = dash.locator(`#ledger tr[data-key="${dup.ok.ledgerId}"]`);
      await row.waitFor({ timeout: 10_000 });
      // The timed-out attempt's late answer confirms the duplicate.
      await row.getByTestId("ledger-status").filter({ hasText: "confirmed" }).waitFor({ timeout: 10_000 });
      assert.match(await row.innerText(), /phonecall/);
      await waitFor(async () => (await dash.getByTestId("k-ledger").innerText()).trim() === "1", "1 open ledger entry in the totals");
    } else if (!ledgerAvailable) {
      await dash.getByTestId("ledger-msg").filter({ hasText: "ledger not available" }).waitFor();
    }

    // One more slow create so the screenshot shows a countdown and a late record.
    await widget.evaluate(() => {
      window.__acc2 = window.Microsoft.CIFramework.createRecord("account", JSON.stringify({ name: "Slower Ltd" })).catch((e) => e);
    });
    await dash.locator("#inflight tr[data-key]").first().waitFor();
    await sleep(900);
    await dash.screenshot({ path: artifact("dashboard.png"), fullPage: true });
    await dash.emulateMedia({ colorScheme: "dark" });
    await dash.screenshot({ path: artifact("dashboard-dark.png"), fullPage: true });
    await dash.emulateMedia({ colorScheme: "light" });

    if (ledgerAvailable && dup.ok) {
      const row = dash.locator(`#ledger tr[data-key="${dup.ok.ledgerId}"]`);
      await row.getByTestId("ack").click();
      await row.getByTestId("ledger-status").filter({ hasText: "acknowledged" }).waitFor();
      const e = await adminJSON(daemon.base, "GET", "/api/v1/ledger/" + dup.ok.ledgerId);
      assert.equal(e.body.status, "acknowledged");
      await waitFor(async () => (await dash.getByTestId("k-ledger").innerText()).trim() === "0", "no open ledger entry");
      // The status filter asks the daemon.
      await dash.locator('#ledger-filters .chip[data-status="confirmed"]').click();
      await dash.locator("#ledger tr.empty").waitFor();
      await dash.locator('#ledger-filters .chip[data-status="acknowledged"]').click();
      await row.waitFor();
      await dash.locator('#ledger-filters .chip[data-status=""]').click();
    }
    // The late account creates finish on the emulator; the feed says so.
    await dash.getByTestId("late-feed").getByText("late answer").first().waitFor({ timeout: 15_000 });
  });

  it("validates fault rules before applying them with PUT", { timeout: 20_000 }, async () => {
    const editor = dash.getByTestId("faults");
    await editor.fill('{"rules":[{"method":"createrecord","latencyMs":-5}]}');
    await dash.getByTestId("faults-validate").click();
    await dash.getByTestId("faults-msg").filter({ hasText: "rules[0].latencyMs must be" }).waitFor();
    await editor.fill('{"rules":[{"method":"nosuchmethod"}]}');
    await dash.getByTestId("faults-apply").click();
    await dash.getByTestId("faults-msg").filter({ hasText: "not a known method" }).waitFor();
    await editor.fill('{"seed":3,"rules":[{"method":"retrieverecord","entity":"contact","latencyMs":250,"count":2}]}');
    await dash.getByTestId("faults-apply").click();
    await dash.getByTestId("faults-msg").filter({ hasText: "applied: 1 rule active" }).waitFor();
    const got = await adminJSON(daemon.base, "GET", "/api/v1/emulator/faults");
    assert.equal(got.body.seed, 3);
    assert.equal(got.body.rules.length, 1);
    assert.equal(got.body.rules[0].latencyMs, 250);
    // Ground truth updates live.
    await waitFor(async () => Number((await dash.getByTestId("stat-createrecord").locator("td.r").innerText()).replace(/,/g, "")) >= 4, "createrecord count in the stats");
  });

  it("with --token: works from /?token= (header for fetch, access_token for the stream) and says so without it", { timeout: 40_000 }, async () => {
    const secured = await startDaemon(["--token", "s3cret-token"]);
    const p = await newPage(browser);
    try {
      await p.goto(secured.base + "/");
      await p.locator("#live[data-state=unauthorized]").waitFor();
      await p.locator("#banner").filter({ hasText: "requires a token" }).waitFor();

      await p.goto(secured.base + "/?token=s3cret-token");
      await p.locator("#live[data-state=live]").waitFor();
      assert.equal((await p.getByTestId("k-sessions").innerText()).trim(), "0");
      assert.equal(await p.locator("#banner").isHidden(), true);
      await p.getByTestId("faults-msg").filter({ hasText: "no fault rules" }).waitFor();
      assert.ok(!secured.logs.some((l) => l.includes("s3cret-token")), "the token is never logged");
    } finally {
      await p.close();
      await secured.stop();
    }
  });
});
