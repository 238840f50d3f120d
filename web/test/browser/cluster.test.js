// The dashboard of a cluster in headless Chromium, against two real
// `cifbridge serve` processes clustered on loopback (embedded NATS routes):
// node a serves the emulator, node b calls it. A widget on each node; the
// dashboard of either node lists both sessions with their node and shows
// both nodes (backend, version, sessions, answering, last seen); an event
// raised from a's dashboard reaches the widget on b; once b stops, a's
// dashboard names it missing with when it was last seen. The nodes panel
// fits a 390 px screen. Screenshots go to test-artifacts/.

import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";

import { skipReason, startDaemon, launchBrowser, newPage, openConnected, adminJSON, waitFor, artifact } from "./harness.js";

/** A loopback address whose port was free a moment ago (for a route). */
async function freeAddr() {
  const server = net.createServer();
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  const addr = "127.0.0.1:" + server.address().port;
  await new Promise((r) => server.close(r));
  return addr;
}

describe("cluster dashboard in Chromium", { skip: skipReason || false, timeout: 240_000 }, () => {
  let a, b, browser, widgetA, widgetB, dash, sessionA, sessionB;

  before(async () => {
    const [routeA, routeB] = [await freeAddr(), await freeAddr()];
    a = await startDaemon(["--node-id", "a", "--cluster-listen", routeA, "--cluster-peers", routeB]);
    b = await startDaemon(["--node-id", "b", "--backend", "cluster", "--cluster-listen", routeB, "--cluster-peers", routeA]);
    // b is ready once it sees a serving the emulator across the route.
    await waitFor(async () => (await fetch(b.base + "/readyz")).status === 200, "node b ready", 30_000);
    browser = await launchBrowser();
    widgetA = await openConnected(browser, a.base + "/examples/softphone.html");
    sessionA = await widgetA.evaluate(() => window.cifbridge.session);
    widgetB = await openConnected(browser, b.base + "/examples/softphone.html");
    sessionB = await widgetB.evaluate(() => window.cifbridge.session);
    // Both sessions are known cluster-wide before the dashboards open.
    await waitFor(async () => (await adminJSON(a.base, "GET", "/api/v1/sessions")).body.sessions.length === 2, "a listing both sessions", 20_000);
    dash = await newPage(browser, { viewport: { width: 1440, height: 1080 }, colorScheme: "light" });
    await dash.goto(a.base + "/");
  }, { timeout: 180_000 });

  after(async () => {
    for (const p of [dash, widgetA, widgetB]) if (p) assert.deepEqual(p.errors.map(String), [], "uncaught errors in " + p.url());
    await browser?.close();
    await b?.stop();
    await a?.stop();
  });

  /** The nodes panel's cards: {node, state, backend, version, sessions, seen, self}. */
  const nodeCards = (page) =>
    page.locator("#nodes li[data-testid=node]").evaluateAll((lis) =>
      lis.map((li) => ({
        node: li.dataset.key,
        state: li.dataset.state,
        backend: li.querySelector(".backend").textContent,
        version: li.querySelector(".version").textContent,
        sessions: li.querySelector(".sessions").textContent,
        seen: li.querySelector(".seen").textContent,
        self: li.textContent.includes("this node"),
      })),
    );

  it("lists both nodes' sessions, each with its node, and both nodes", { timeout: 30_000 }, async () => {
    await dash.locator("#live[data-state=live]").waitFor();
    assert.match(await dash.getByTestId("meta").innerText(), /^node a · /);
    const rowA = dash.locator(`#sessions tr[data-key="${sessionA}"]`);
    const rowB = dash.locator(`#sessions tr[data-key="${sessionB}"]`);
    await rowB.waitFor();
    assert.equal(await rowA.locator("td.node").innerText(), "a");
    assert.equal(await rowB.locator("td.node").innerText(), "b");
    assert.match(await rowB.innerText(), /softphone-example\/1/);
    assert.equal(await dash.locator("#sessions").locator("xpath=..").locator("thead th").nth(1).innerText(), "NODE");
    assert.equal((await dash.getByTestId("k-sessions").innerText()).trim(), "2");

    await dash.getByTestId("nodes-panel").waitFor();
    const cards = await waitFor(async () => {
      const c = await nodeCards(dash);
      return c.length === 2 && c.every((n) => n.sessions === "1") && c;
    }, "two node cards with a session each");
    const version = (await adminJSON(a.base, "GET", "/api/v1/status")).body.version;
    assert.deepEqual(
      cards.map(({ seen, ...n }) => n),
      [
        { node: "a", state: "answering", backend: "emulator", version, sessions: "1", self: true },
        { node: "b", state: "answering", backend: "cluster", version, sessions: "1", self: false },
      ],
    );
    for (const c of cards) assert.match(c.seen, /^\d\d:\d\d:\d\d$/, "last seen as a clock time");
    assert.match(await dash.getByTestId("nodes-hint").innerText(), /^2 answering · asked within/);
    await dash.screenshot({ path: artifact("dashboard-cluster.png"), fullPage: true });
  });

  it("shows the same cluster from node b's dashboard", { timeout: 30_000 }, async () => {
    const other = await newPage(browser, { viewport: { width: 1280, height: 900 } });
    try {
      await other.goto(b.base + "/");
      await other.locator(`#sessions tr[data-key="${sessionA}"] td.node`).filter({ hasText: "a" }).waitFor();
      await other.locator(`#sessions tr[data-key="${sessionB}"] td.node`).filter({ hasText: "b" }).waitFor();
      const cards = await waitFor(async () => {
        const c = await nodeCards(other);
        return c.length === 2 && c;
      }, "two node cards on b");
      assert.deepEqual(cards.map((n) => [n.node, n.self]), [["a", false], ["b", true]]);
      assert.deepEqual(other.errors.map(String), []);
    } finally {
      await other.close();
    }
  });

  it("raises an event from a's dashboard to the widget on b", { timeout: 30_000 }, async () => {
    await dash.locator(`#sessions tr[data-key="${sessionB}"]`).click();
    assert.equal(await dash.getByTestId("ev-session").inputValue(), sessionB);
    assert.match(await dash.locator(`#ev-session option[value="${sessionB}"]`).innerText(), / @ b/);
    await dash.getByTestId("ev-type").selectOption("onclicktoact");
    const data = JSON.parse(await dash.getByTestId("ev-data").inputValue());
    await dash.getByTestId("ev-send").click();
    await dash.locator("#ev-answer[data-state=ok]").waitFor();
    assert.deepEqual(JSON.parse(await dash.locator("#ev-body").innerText()), { accepted: true, number: data.value });
  });

  it("fits the nodes panel and the session list's node column on a 390 px screen", { timeout: 30_000 }, async () => {
    const phone = await newPage(browser, { viewport: { width: 390, height: 844 }, colorScheme: "light" });
    try {
      await phone.goto(a.base + "/");
      await phone.locator("#nodes li[data-key=b]").waitFor();
      await phone.locator(`#sessions tr[data-key="${sessionB}"] td.node`).waitFor();
      const layout = await phone.evaluate(() => {
        const panel = document.getElementById("nodes-panel");
        const cut = [...panel.querySelectorAll("h2, .hint, .node-id, .badge, dt, dd"), ...document.querySelectorAll("table.t th, #sessions td.node")]
          .filter((e) => e.offsetParent && e.scrollWidth > e.clientWidth + 1)
          .map((e) => `${e.tagName.toLowerCase()}.${e.className}: ${e.textContent.trim().slice(0, 40)}`);
        const wide = [panel, ...panel.querySelectorAll(".node")]
          .filter((e) => e.getBoundingClientRect().right > window.innerWidth + 0.5)
          .map((e) => e.className + " " + Math.round(e.getBoundingClientRect().right));
        return { pageWidth: document.documentElement.scrollWidth, cut, wide };
      });
      assert.equal(layout.pageWidth, 390, "the page scrolls sideways");
      assert.deepEqual(layout.cut, [], "text cut in the nodes panel at 390 px");
      assert.deepEqual(layout.wide, [], "node cards wider than the screen");
      await phone.locator("#nodes-panel").screenshot({ path: artifact("dashboard-cluster-nodes-390.png") });
      assert.deepEqual(phone.errors.map(String), []);
    } finally {
      await phone.close();
    }
  });

  it("names node b missing, with when it was last seen, once it stops", { timeout: 60_000 }, async () => {
    await b.stop();
    const card = dash.locator("#nodes li[data-key=b][data-state=missing]");
    await card.waitFor({ timeout: 20_000 });
    assert.match(await card.locator(".seen").innerText(), /^\d\d:\d\d:\d\d \(.+ ago\)$/);
    assert.equal(await card.locator(".backend").innerText(), "cluster", "what a last heard from b");
    assert.equal(await dash.locator("#nodes li[data-key=a][data-state=answering]").count(), 1);
    await dash.locator(`#sessions tr[data-key="${sessionB}"]`).waitFor({ state: "detached" });
    assert.match(await dash.locator("#sessions-hint").innerText(), /the sessions of b \(not answering\)/);
    assert.match(await dash.getByTestId("nodes-hint").innerText(), /^1 answering · 1 missing/);
    await dash.screenshot({ path: artifact("dashboard-cluster-missing.png"), fullPage: true });
  });
});
