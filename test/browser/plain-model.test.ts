import fs from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApp } from "@outbox/apphost";
import {
  CHROMIUM,
  launchBrowser,
  screenshot,
  startDashboardApp,
  type Browser,
  type DashboardApp,
} from "./support.js";

// The dashboard of a model that declares no dashboard contribution — a plain Node app (no
// service-defaults, no outbox) and PostgreSQL — in Chromium: only the dashboard's own pages, and
// none of the outbox contribution's pages, routes or replay actions.
if (!fs.existsSync(CHROMIUM))
  throw new Error(`no Chromium at ${CHROMIUM}: apt-get install -y chromium (.ci/run does)`);

function plainModel() {
  const app = createApp({ name: "plain-dashboard" });
  const db = app.addPostgres("pg").addDatabase("appdb");
  app
    .addNodeApp("web", "test/fixtures/plain-express-app")
    .withReference(db)
    .waitFor(db)
    .withHttpEndpoint()
    .withHttpHealthCheck("/health");
  return app;
}

describe("the dashboard of a model without contributions, in Chromium", () => {
  let system: DashboardApp | undefined;
  let browser: Browser | undefined;

  beforeAll(async () => {
    system = await startDashboardApp(plainModel());
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

  it("shows the resources and only the dashboard's own pages", async () => {
    const { dashboard, page } = ctx();
    await page.goto(dashboard.loginUrl);
    for (const name of ["pg", "appdb", "web"])
      await page.locator(`tr[data-resource="${name}"][data-state="Running"]`).waitFor({ timeout: 30_000 });
    expect(await page.locator("nav a").allInnerTexts()).toEqual([
      "Resources",
      "Console",
      "Structured logs",
      "Traces",
      "Metrics",
      "Graph",
    ]);
    await screenshot(page, "plain-model-resources");
    // The graph, a page of its own, still works without any contribution.
    await page.locator("nav a[data-nav=graph]").click();
    await page.getByRole("heading", { name: "Resource graph" }).waitFor();
  });

  it("answers 404 for the outbox contribution's pages, modules, routes and replay actions", async () => {
    const { dashboard, page } = ctx();
    // From the signed-in page itself, as its scripts would ask.
    const status = (path: string, method = "GET") =>
      page.evaluate(
        async ([p, m]) => (await fetch(p as string, { method: m as string })).status,
        [path, method],
      );
    // Precondition: the session works for the dashboard's own API.
    expect(await status("/api/resources")).toBe(200);
    for (const path of ["/messaging", "/journey?q=x", "/assets/pages/messaging.js", "/assets/journey.js"])
      expect(await status(path), path).toBe(404);
    expect(await status("/api/messaging?refresh=true")).toBe(404);
    expect(await status("/api/journey?q=0af7651916cd43dd8448eb211c80319c")).toBe(404);
    expect(await status("/api/messaging/web/replay/dead-letters", "POST")).toBe(404);
    expect(await status("/api/messaging/web/replay/outbox-dead", "POST")).toBe(404);
    // Typed into the address bar: the dashboard's not-found answer, not a page.
    const response = await page.goto(`${dashboard.browserUrl}/messaging`);
    expect(response?.status()).toBe(404);
  });

  it("printed no console errors on any page", () => {
    // The 404 page above is JSON the test asked for, not a script error.
    expect(ctx().errors.filter((e) => !/status of 404/.test(e))).toEqual([]);
  });
});
