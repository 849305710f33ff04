import fs from "node:fs";
import fsp from "node:fs/promises";
import http from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DashboardServer, generateSecrets } from "@outbox/apphost";
import { LogSink } from "../../apphost/src/runtime/log-sink.js";
import { CHROMIUM, launchBrowser, type Browser } from "./support.js";

// A compromised service on another 127.0.0.1 port, in a real browser (Debian's Chromium through
// playwright-core): the user clicks its Swagger link on the dashboard, its page tries to get the
// dashboard's session cookie sent to itself, and replays a cookie against the dashboard under
// other Host names. Cookies are not isolated by port; the dashboard's own unguessable host name
// is what keeps its cookie away from the services.
if (!fs.existsSync(CHROMIUM))
  throw new Error(`no Chromium at ${CHROMIUM}: apt-get install -y chromium (.ci/run does)`);

interface Seen {
  /** The AppHost's messaging monitor, not the browser. */
  monitor: boolean;
  host: string;
  url: string;
  cookie: string;
  referer: string;
}

/** The compromised service: records every request; its Swagger page hunts for the dashboard's cookie. */
class CompromisedService {
  readonly seen: Seen[] = [];
  private readonly waiters: Array<{ url: string; resolve: () => void }> = [];
  private readonly server: http.Server;
  port = 0;

  constructor(private readonly dashboardPort: () => number) {
    this.server = http.createServer((req, res) => {
      const seen = {
        monitor: req.headers["x-apphost-monitor"] !== undefined,
        host: req.headers.host ?? "",
        url: req.url ?? "",
        cookie: req.headers.cookie ?? "",
        referer: req.headers.referer ?? "",
      };
      this.seen.push(seen);
      for (const waiter of this.waiters.filter((w) => seen.url.startsWith(w.url))) waiter.resolve();
      res.writeHead(200, { "content-type": "text/html; charset=utf-8" }).end(this.page(seen.url));
    });
  }

  /**
   * /swagger sends the browser to the name the dashboard would have if it were predictable
   * (`apphost-<dashboard port>.localhost`, the port is in every service's OTLP endpoint) but on
   * this service's own port; /hop then navigates again from that site, which makes even a
   * SameSite=Strict cookie eligible; /done marks the end.
   */
  private page(url: string): string {
    const guessed = `http://apphost-${this.dashboardPort()}.localhost:${this.port}`;
    if (url.startsWith("/swagger"))
      return `<script>location.href = ${JSON.stringify(`${guessed}/hop`)};</script>`;
    if (url.startsWith("/hop")) return `<script>location.href = "/done";</script>`;
    return "<p>nothing here</p>";
  }

  /** What the browser asked for (not the AppHost's polls, not the favicon). */
  fromBrowser(): Seen[] {
    return this.seen.filter((s) => !s.monitor && s.url !== "/favicon.ico");
  }

  /** Resolves when a request whose path starts with `url` arrives. */
  requested(url: string): Promise<void> {
    if (this.seen.some((s) => s.url.startsWith(url))) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ url, resolve }));
  }

  async listen(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    this.port = (this.server.address() as AddressInfo).port;
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

/** A request to the dashboard's port with any Host header (what a service's own code can send). */
function replay(
  port: number,
  host: string,
  pathname: string,
  headers: Record<string, string>,
): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: "127.0.0.1", port, path: pathname, method: "POST", headers: { ...headers, host } },
      (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode ?? 0));
      },
    );
    req.on("error", reject).end();
  });
}

describe("a service on another port cannot use the dashboard's session", () => {
  let dir: string;
  let dashboard: DashboardServer;
  let service: CompromisedService;
  let browser: Browser;
  const calls: string[] = [];

  beforeAll(async () => {
    dir = await fsp.mkdtemp(path.join(os.tmpdir(), "dashboard-isolation-"));
    dashboard = new DashboardServer({ port: 0, secrets: generateSecrets() });
    service = new CompromisedService(() => Number(new URL(dashboard.url).port));
    await service.listen();
    await dashboard.listen();
    const logs = new LogSink({ directory: dir, console: false });
    dashboard.attach({
      logs,
      snapshot: () => [
        {
          name: "compromised",
          kind: "node-service",
          state: "Running",
          health: "Healthy",
          pid: null,
          endpoints: { http: `http://127.0.0.1:${service.port}` },
          logFile: path.join(dir, "compromised.log"),
          dependsOn: [],
        },
      ],
      startResource: (name) => Promise.resolve(void calls.push(`start ${name}`)),
      stopResource: (name) => Promise.resolve(void calls.push(`stop ${name}`)),
      restartResource: (name) => Promise.resolve(void calls.push(`restart ${name}`)),
    });
    browser = await launchBrowser();
  });

  afterAll(async () => {
    await browser?.close();
    await dashboard?.close();
    await service?.close();
    if (dir) await fsp.rm(dir, { recursive: true, force: true });
  });

  it("the Swagger link's page never receives the cookie, nor the dashboard's name", async () => {
    const { page, context } = browser;
    await page.goto(dashboard.loginUrl);
    expect(new URL(page.url()).pathname).toBe("/");
    const [session] = (await context.cookies(dashboard.browserUrl)).filter((c) =>
      c.name.startsWith("apphost_session_"),
    );
    // Precondition: logged in, with a host-only cookie for the dashboard's name.
    expect(session).toMatchObject({
      domain: dashboard.browserHostName,
      httpOnly: true,
      sameSite: "Strict",
      path: "/",
    });
    // The popup is left open: closing it can wait for its page for a long time; the context closes it.
    await Promise.all([
      context.waitForEvent("page"),
      page.locator('tr[data-resource="compromised"] a', { hasText: "swagger" }).click(),
    ]);
    // The service's page ran its two hops (to a predictable dashboard name, on its own port).
    await service.requested("/done");
    const pages = service.fromBrowser().map((s) => s.url);
    expect(pages.slice(0, 3)).toEqual(["/swagger", "/hop", "/done"]);
    expect(service.fromBrowser()[1]?.host).toBe(
      `apphost-${new URL(dashboard.url).port}.localhost:${service.port}`,
    );
    // Every request the service saw, the AppHost's own polls included, came without the cookie.
    for (const seen of service.seen) {
      expect(seen.cookie, `${seen.url} carried a cookie`).toBe("");
      expect(seen.referer, `${seen.url} carried a referrer`).not.toContain(dashboard.browserHostName);
    }
    expect(dashboard.browserHostName).not.toBe(`apphost-${new URL(dashboard.url).port}.localhost`);

    // Control: the harness does see a cookie when the browser is sent to the dashboard's real name
    // on the service's port (cookies ignore ports) — why that name must stay unguessable.
    const probe = await context.newPage();
    await probe.goto(`http://${dashboard.browserHostName}:${service.port}/control`);
    await probe.close();
    expect(service.seen.find((s) => s.url === "/control")?.cookie).toContain(session?.value ?? "?");
  });

  it("a replayed session cookie is refused under any Host but the dashboard's own", async () => {
    const [session] = (await browser.context.cookies(dashboard.browserUrl)).filter((c) =>
      c.name.startsWith("apphost_session_"),
    );
    expect(session).toBeDefined();
    const cookie = `${session?.name}=${session?.value}`;
    const port = Number(new URL(dashboard.url).port);
    const stop = "/api/resources/compromised/stop";
    for (const host of [
      `127.0.0.1:${port}`,
      `localhost:${port}`,
      `apphost-${port}.localhost:${port}`,
      `${dashboard.browserHostName}:${service.port}`,
    ])
      expect(await replay(port, host, stop, { cookie, origin: `http://${host}` }), host).toBe(421);
    expect(calls).toEqual([]);
    // Precondition: the cookie itself was a live session (the refusals above are the Host's).
    const own = new URL(dashboard.browserUrl).host;
    expect(await replay(port, own, stop, { cookie, origin: dashboard.browserUrl })).toBe(202);
    expect(calls).toEqual(["stop compromised"]);
  });
});
