import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { chromium, type BrowserContext, type Page } from "playwright-core";
import { DashboardServer, DistributedApplication, generateSecrets, type AppBuilder } from "@outbox/apphost";
import { repositoryRoot } from "@outbox/apphost/testing";
import { buildApp } from "../../apphost.js";

export const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
export const SCREENSHOTS = path.join(repositoryRoot, "test-results", "screenshots");

export interface DashboardApp {
  app: DistributedApplication;
  dashboard: DashboardServer;
  stop(): Promise<void>;
}

/**
 * What `npm run apphost` does, on a free dashboard port and a temporary state directory; `model`
 * defaults to this repository's.
 */
export async function startDashboardApp(model: AppBuilder = buildApp()): Promise<DashboardApp> {
  const stateDir = await fs.mkdtemp(path.join(os.tmpdir(), "outbox-dashboard-test-"));
  const dashboard = new DashboardServer({
    port: 0,
    secrets: generateSecrets(),
    telemetryDir: path.join(stateDir, "telemetry"),
  });
  await dashboard.listen();
  const app = new DistributedApplication(model, {
    rootDir: repositoryRoot,
    stateDir,
    mode: "process",
    console: process.env.APPHOST_TEST_LOGS === "1",
    otlpEndpoint: dashboard.url,
    otlpHeaders: dashboard.otlpHeaders,
  });
  dashboard.attach(app);
  const stop = async () => {
    await app.stop();
    await dashboard.close();
    if (process.env.KEEP_APPHOST_STATE !== "1") await fs.rm(stateDir, { recursive: true, force: true });
  };
  try {
    await app.start();
  } catch (error) {
    await stop().catch(() => {});
    throw error;
  }
  return { app, dashboard, stop };
}

export interface Browser {
  context: BrowserContext;
  page: Page;
  /** Console errors and uncaught page errors seen so far, with the page they happened on. */
  errors: string[];
  close(): Promise<void>;
}

/** Debian's Chromium through playwright-core (no downloaded browsers), fresh profile each time. */
export async function launchBrowser(): Promise<Browser> {
  const profile = await fs.mkdtemp(path.join(os.tmpdir(), "outbox-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1400, height: 900 },
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  const page = context.pages()[0] ?? (await context.newPage());
  const errors: string[] = [];
  page.on("console", (message) => {
    if (message.type() === "error") errors.push(`${page.url()}: ${message.text()}`);
  });
  page.on("pageerror", (error) => errors.push(`${page.url()}: ${error.message}`));
  return {
    context,
    page,
    errors,
    close: async () => {
      await context.close();
      await fs.rm(profile, { recursive: true, force: true });
    },
  };
}

export async function screenshot(page: Page, name: string): Promise<void> {
  await fs.mkdir(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`) });
}

/**
 * Resolves once the dashboard's telemetry store holds a span of `traceId` from each of `services`.
 * The services export spans in batches (OTEL_BSP_SCHEDULE_DELAY, 1 s), so a message can be
 * delivered before its spans reach the dashboard; a page that lists them must wait for this.
 */
export function waitForTraceSpans(
  dashboard: DashboardServer,
  traceId: string,
  services: string[],
  timeoutMs = 30_000,
): Promise<void> {
  const missing = (): string[] => {
    const seen = new Set(dashboard.store.trace(traceId).map((span) => span.service));
    return services.filter((service) => !seen.has(service));
  };
  return new Promise((resolve, reject) => {
    const check = (): void => {
      if (missing().length > 0) return;
      done();
      resolve();
    };
    const unsubscribe = dashboard.store.onAdd(check);
    const timer = setTimeout(() => {
      done();
      reject(new Error(`trace ${traceId}: no span from ${missing().join(", ")} after ${timeoutMs} ms`));
    }, timeoutMs);
    function done(): void {
      clearTimeout(timer);
      unsubscribe();
    }
    check();
  });
}
