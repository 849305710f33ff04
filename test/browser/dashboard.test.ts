import fs from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fetchLocalhost } from "../../apphost/src/dashboard/localhost-fetch.js";
import { postEntity } from "../support/system.js";
import {
  CHROMIUM,
  launchBrowser,
  screenshot,
  startDashboardApp,
  type Browser,
  type DashboardApp,
} from "./support.js";

// The AppHost dashboard in a real browser (Debian's Chromium driven by playwright-core), against the
// real system: PostgreSQL, Artemis and both services exporting OTLP to the dashboard.
const haveChromium = fs.existsSync(CHROMIUM);
// A browser test without a browser fails; it never skips (.ci/run installs Debian's Chromium).
if (!haveChromium) throw new Error(`no Chromium at ${CHROMIUM}: apt-get install -y chromium (.ci/run does)`);

interface TraceSummary {
  traceId: string;
  name: string;
  services: string[];
}

describe("AppHost dashboard in Chromium", () => {
  let system: DashboardApp | undefined;
  let browser: Browser | undefined;

  beforeAll(async () => {
    system = await startDashboardApp();
    browser = await launchBrowser();
  });

  afterAll(async () => {
    await browser?.close();
    await system?.stop();
  });

  const ctx = () => {
    if (!system || !browser) throw new Error("not started");
    return { ...system, ...browser };
  };

  it("refuses everything without the login token", async () => {
    const { dashboard, page } = ctx();
    const api = await fetchLocalhost(`${dashboard.browserUrl}/api/resources`);
    expect(api.status).toBe(401);
    const wrong = await fetchLocalhost(`${dashboard.browserUrl}/login?t=not-the-token`);
    expect(wrong.status).toBe(401);
    const otlp = await fetch(`${dashboard.url}/v1/traces`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ resourceSpans: [] }),
    });
    expect(otlp.status).toBe(401);
    await page.goto(`${dashboard.browserUrl}/traces`);
    expect(new URL(page.url()).pathname).toBe("/login");
    await screenshot(page, "01-login");
  });

  it("logs in with the printed token and shows every resource Running", async () => {
    const { dashboard, page, app } = ctx();
    await page.goto(dashboard.loginUrl);
    expect(new URL(page.url()).pathname).toBe("/");
    const cookies = await page.context().cookies(dashboard.browserUrl);
    const session = cookies.find((c) => c.name.startsWith("apphost_session_"));
    expect(session?.httpOnly).toBe(true);
    expect(session?.sameSite).toBe("Strict");
    const names = app.snapshot().map((r) => r.name);
    for (const name of names) {
      await page.locator(`tr[data-resource="${name}"][data-state="Running"]`).waitFor({ timeout: 30_000 });
    }
    expect(await page.locator("tr[data-resource]").count()).toBe(names.length);
    // Secrets are masked in the environment shown.
    const html = await page.content();
    const broker = app.getConnectionString("broker");
    expect(html).not.toContain(new URL(broker).password);
    await screenshot(page, "02-resources");
  });

  it("follows a posted entity from the HTTP request to the receiver in one waterfall", async () => {
    const { app, dashboard, page } = ctx();
    const sender = app.getEndpoint("sender");
    const receiver = app.getEndpoint("receiver");
    const created = await postEntity(sender, { name: "traced from the browser test" });
    expect(created.status).toBe(201);
    const id = (created.body as { id: string }).id;
    await poll(
      async () => (await fetch(`${receiver}/api/ReceivedItems/${id}`)).status === 200,
      "the receiver to apply it",
    );

    // The trace reaches the dashboard over OTLP within the exporters' batch delay.
    let trace: TraceSummary | undefined;
    // Asked from the signed-in page: only the browser resolves the dashboard's *.localhost name.
    await poll(async () => {
      const traces = await page.evaluate(async (url) => {
        const response = await fetch(url);
        return (await response.json()) as TraceSummary[];
      }, `${dashboard.browserUrl}/api/traces?text=POST%20%2Fapi%2FEntityItems`);
      trace = traces.find((t) => t.services.includes("sender") && t.services.includes("receiver"));
      return trace !== undefined;
    }, "a trace with sender and receiver spans");

    await page.goto(`${dashboard.browserUrl}/traces`);
    await page.locator(`tr[data-trace="${trace?.traceId}"]`).click();
    await page.locator('[data-testid="waterfall"]').waitFor();
    expect(new URL(page.url()).pathname).toBe(`/traces/${trace?.traceId}`);
    const rows = page.locator("[data-testid=waterfall] .row");
    const labels = await rows.allTextContents();
    expect(labels.some((l) => l.startsWith("POST /api/EntityItems"))).toBe(true);
    expect(labels.some((l) => /^send entity-items.*producer/i.test(l))).toBe(true);
    expect(labels.some((l) => /^process .*receiver.*consumer/i.test(l))).toBe(true);
    expect(labels.some((l) => /pg\.query:INSERT receiverdb/.test(l))).toBe(true);
    expect(await page.locator('[data-testid=waterfall] .row[data-service="sender"]').count()).toBeGreaterThan(
      0,
    );
    expect(
      await page.locator('[data-testid=waterfall] .row[data-service="receiver"]').count(),
    ).toBeGreaterThan(0);
    await page.locator("[data-testid=waterfall] .row", { hasText: "process" }).first().click();
    await page.getByText("messaging.system").waitFor();
    await screenshot(page, "03-trace-waterfall");
  });

  it("shows console logs, structured logs with trace links, metrics and messaging", async () => {
    const { dashboard, page } = ctx();
    await page.goto(`${dashboard.browserUrl}/console`);
    await page.locator("[data-testid=console] div", { hasText: "receiver" }).first().waitFor();
    await page.selectOption("select[name=resource]", "sender");
    await page.locator("[data-testid=console] div").first().waitFor();
    const resources = await page.locator("[data-testid=console] .res").allTextContents();
    expect(resources.every((r) => r.startsWith("sender"))).toBe(true);
    await screenshot(page, "04-console");

    await page.goto(`${dashboard.browserUrl}/logs`);
    await page
      .locator("[data-testid=structured-logs] a[href^='/traces/']")
      .first()
      .waitFor({ timeout: 30_000 });
    await screenshot(page, "05-structured-logs");

    await page.goto(`${dashboard.browserUrl}/metrics`);
    await page.locator("[data-testid=metric-charts] section.metric").first().waitFor({ timeout: 30_000 });
    await screenshot(page, "06-metrics");

    await page.goto(`${dashboard.browserUrl}/messaging`);
    await page.locator("[data-testid=messaging] .card").first().waitFor({ timeout: 30_000 });
    await screenshot(page, "07-messaging");
  });

  it("stops and starts the receiver from the Resources page", async () => {
    const { dashboard, page } = ctx();
    await page.goto(`${dashboard.browserUrl}/resources`);
    const row = () => page.locator('tr[data-resource="receiver"]');
    await page.locator('tr[data-resource="receiver"][data-state="Running"]').waitFor();
    await row().locator('button[data-action="stop"]').click();
    await page.locator('tr[data-resource="receiver"][data-state="Exited"]').waitFor({ timeout: 60_000 });
    await screenshot(page, "08-receiver-stopped");
    await row().locator('button[data-action="start"]').click();
    await page.locator('tr[data-resource="receiver"][data-state="Running"]').waitFor({ timeout: 120_000 });
    await poll(
      async () => (await row().locator("td").nth(3).textContent()) === "Healthy",
      "the receiver to be healthy",
    );
  });

  it("refuses a cross-origin POST even with the session cookie", async () => {
    const { dashboard, page } = ctx();
    const [session] = (await page.context().cookies(dashboard.browserUrl)).filter((c) =>
      c.name.startsWith("apphost_session_"),
    );
    expect(session).toBeDefined();
    const response = await fetchLocalhost(`${dashboard.browserUrl}/api/resources/receiver/stop`, {
      method: "POST",
      headers: { cookie: `${session?.name}=${session?.value}`, origin: "http://evil.example" },
    });
    expect(response.status).toBe(403);
  });

  it("printed no console errors on any page", () => {
    expect(ctx().errors).toEqual([]);
  });
});

async function poll(check: () => Promise<boolean>, what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}
