import fs from "node:fs";
import fsp from "node:fs/promises";
import path from "node:path";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { repositoryRoot } from "@outbox/apphost/testing";
import {
  CHROMIUM,
  launchBrowser,
  startDashboardApp,
  waitForTraceSpans,
  type Browser,
  type DashboardApp,
} from "./support.js";

// The journey, the resource graph and custom commands in a real browser against the real system.
const haveChromium = fs.existsSync(CHROMIUM);
// A browser test without a browser fails; it never skips (.ci/run installs Debian's Chromium).
if (!haveChromium) throw new Error(`no Chromium at ${CHROMIUM}: apt-get install -y chromium (.ci/run does)`);

/** The README and docs/dashboard.md show these. */
async function docsScreenshot(page: Page, name: string): Promise<void> {
  const dir = path.join(repositoryRoot, "docs", "screenshots");
  await fsp.mkdir(dir, { recursive: true });
  await page.screenshot({ path: path.join(dir, `${name}.png`), fullPage: true });
}

describe("journey, graph and commands in Chromium", () => {
  let system: DashboardApp | undefined;
  let browser: Browser | undefined;

  beforeAll(async () => {
    system = await startDashboardApp();
    browser = await launchBrowser();
    await browser.page.goto(system.dashboard.loginUrl);
  });

  afterAll(async () => {
    await browser?.close();
    await system?.stop();
  });

  const ctx = () => {
    if (!system || !browser) throw new Error("not started");
    return { ...system, ...browser };
  };

  it("shows a posted entity's whole journey, down to delivered, from its id", async () => {
    const { app, dashboard, page } = ctx();
    const response = await fetch(`${app.getEndpoint("sender")}/api/EntityItems`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name: "follow me" }),
    });
    expect(response.status).toBe(201);
    const { id } = (await response.json()) as { id: string };

    await page.goto(`${dashboard.browserUrl}/journey`);
    await page.getByTestId("journey-query").fill(id);
    await page.getByRole("button", { name: "Show journey" }).click();
    // Delivery and the receipt are asynchronous: reload the journey until it is complete.
    const delivered = page.locator('li[data-stage="delivered"]');
    const deadline = Date.now() + 60_000;
    while ((await delivered.count()) === 0 || (await page.locator('li[data-stage="applied"]').count()) < 2) {
      if (Date.now() > deadline)
        throw new Error(`journey incomplete: ${await page.getByTestId("journey").innerText()}`);
      await page.waitForTimeout(500);
      await page.getByRole("button", { name: "Show journey" }).click();
      await page.locator('[data-testid="journey"] section, [data-testid="journey"] .empty').first().waitFor();
    }
    expect(new URL(page.url()).searchParams.get("q")).toBe(id);
    const stages: string[] = [];
    for (const item of await page.locator("li[data-stage]").all()) {
      const group = await item.getAttribute("data-group");
      stages.push(`${await item.getAttribute("data-stage")}${group ? `:${group}` : ""}`);
    }
    for (const stage of [
      "created",
      "broker",
      "queue:receiver",
      "queue:audit",
      "applied:receiver",
      "applied:audit",
      "receipt",
      "delivered",
    ])
      expect(stages).toContain(stage);
    expect(stages[0]).toBe("created");
    // Linked to its trace, whose spans are listed. A message is often delivered before its spans
    // reach the dashboard (the services export in 1 s batches): wait until the store holds the
    // spans of both services, then show the journey again.
    const traceHref = await page.getByTestId("journey-trace").getAttribute("href");
    expect(traceHref).toMatch(/^\/traces\/[0-9a-f]{32}$/);
    await waitForTraceSpans(dashboard, traceHref!.slice("/traces/".length), ["sender", "receiver"]);
    await page.getByRole("button", { name: "Show journey" }).click();
    await page.getByTestId("journey-spans").locator("tr").nth(1).waitFor();
    await docsScreenshot(page, "dashboard-journey");

    // A shared link opens the same journey.
    await page.goto(`${dashboard.browserUrl}/journey?q=${id}`);
    await page.locator('li[data-stage="delivered"]').waitFor();
    // An unknown id says so.
    await page.goto(`${dashboard.browserUrl}/journey?q=00000000-0000-4000-8000-000000000000`);
    await expect.poll(() => page.getByTestId("journey").innerText()).toContain("Nothing found");
  });

  it("draws the resource graph with dependency edges and live state colours", async () => {
    const { app, dashboard, page } = ctx();
    await page.goto(`${dashboard.browserUrl}/graph`);
    for (const r of app.snapshot())
      await page.locator(`g[data-node="${r.name}"][data-state="Running"]`).waitFor({ timeout: 30_000 });
    for (const edge of ["sender->senderdb", "sender->broker", "senderdb->sender-pg", "receiver->log-level"])
      expect(await page.locator(`line[data-edge="${edge}"]`).count(), edge).toBe(1);
    await docsScreenshot(page, "dashboard-graph");
    await app.stopResource("receiver");
    await page.locator('g[data-node="receiver"][data-state="Exited"]').waitFor({ timeout: 30_000 });
    expect(await page.locator('g[data-node="receiver"]').getAttribute("class")).toContain("state-Exited");
    await app.startResource("receiver");
    await page.locator('g[data-node="receiver"][data-state="Running"]').waitFor({ timeout: 60_000 });
  });

  it("runs a custom command from its button after the confirmation", async () => {
    const { dashboard, page } = ctx();
    await page.goto(`${dashboard.browserUrl}/resources`);
    const button = page.locator('tr[data-resource="receiver"] button[data-command="replay-dead-letters"]');
    await button.waitFor();
    await expect.poll(() => button.isEnabled(), { timeout: 30_000 }).toBe(true);
    // Dismissing the confirmation runs nothing...
    page.once("dialog", (dialog) => void dialog.dismiss());
    await button.click();
    expect(await page.getByTestId("toast").count()).toBe(0);
    // ...accepting it runs the command through the receiver's own API.
    page.once("dialog", (dialog) => void dialog.accept());
    await button.click();
    await expect
      .poll(() => page.getByTestId("toast").innerText(), { timeout: 30_000 })
      .toBe("Replay dead letters: replayed 0 to receiver, 0 to audit");
    expect(
      await page.locator('tr[data-resource="log-level"] [data-testid="parameter-value"]').innerText(),
    ).toBe("info");
    await docsScreenshot(page, "dashboard-resources");
  });

  it("charts every metric over a range kept in the URL", async () => {
    const { dashboard, page } = ctx();
    await page.goto(`${dashboard.browserUrl}/metrics?range=5m`);
    const published = page.locator('section.metric[data-metric="outbox.messages.published"]');
    await published.waitFor({ timeout: 60_000 });
    await expect
      .poll(async () => Number(await published.getAttribute("data-points")), { timeout: 60_000 })
      .toBeGreaterThan(1);
    expect(await published.locator("svg.chart polyline").count()).toBeGreaterThan(0);
    expect(await page.getByTestId("metric-range").inputValue()).toBe("5m");
    await page.getByTestId("metric-range").selectOption("1h");
    await expect.poll(() => new URL(page.url()).searchParams.get("range")).toBe("1h");
    await docsScreenshot(page, "dashboard-metrics");
  });

  it("shows every consumer group's dead-letter queue, the throughput and the commit → applied latency", async () => {
    const { dashboard, page } = ctx();
    await page.goto(`${dashboard.browserUrl}/messaging`);
    await page.locator('[data-dlq="DLQ.entity-items.audit"]').waitFor({ timeout: 30_000 });
    await page.locator('[data-dlq="DLQ.entity-items.receiver"]').waitFor();
    const flow = page.getByTestId("flow");
    await flow.waitFor();
    expect(await flow.innerText()).toContain("commit → applied + receipt p95");
    await docsScreenshot(page, "dashboard-messaging");
  });

  it("keeps console and structured-log filters in the URL", async () => {
    const { dashboard, page } = ctx();
    await page.goto(`${dashboard.browserUrl}/console`);
    await page.selectOption("select[name=resource]", "receiver");
    await expect.poll(() => new URL(page.url()).searchParams.get("resource")).toBe("receiver");
    await page.goto(`${dashboard.browserUrl}/console?resource=sender&text=outbox`);
    expect(await page.locator("select[name=resource]").inputValue()).toBe("sender");
    expect(await page.locator("input[name=text]").first().inputValue()).toBe("outbox");
    await page.goto(`${dashboard.browserUrl}/logs?service=receiver`);
    expect(await page.locator("select").first().inputValue()).toBe("receiver");
  });

  it("printed no console errors on any page", () => {
    expect(ctx().errors).toEqual([]);
  });
});
