import type { IncomingMessage } from "node:http";
import { afterEach, describe, expect, it } from "vitest";
import { LoginToken, SessionStore } from "./auth.js";
import { DashboardServer } from "./dashboard-server.js";
import { fetchLocalhost } from "./localhost-fetch.js";

function request(store: SessionStore, id: string): IncomingMessage {
  return { headers: { cookie: `${store.cookieName}=${id}` } } as IncomingMessage;
}

describe("login token", () => {
  it("works once, then is replaced by a new one that is announced", () => {
    const announced: string[] = [];
    const token = new LoginToken("first-token", (t) => announced.push(t));
    expect(token.consume("wrong")).toBe(false);
    expect(token.consume("first-token")).toBe(true);
    expect(token.consume("first-token")).toBe(false);
    expect(announced).toHaveLength(1);
    expect(token.value).toBe(announced[0]);
    expect(token.consume(announced[0])).toBe(true);
  });
});

describe("sessions", () => {
  it("expire when idle, and each use renews them", () => {
    let now = 0;
    const store = new SessionStore(1, { idleMs: 1000, now: () => now });
    const id = store.create();
    now = 900;
    expect(store.sessionOf(request(store, id))).toBe(id);
    now = 1800;
    expect(store.sessionOf(request(store, id))).toBe(id);
    now = 2801;
    expect(store.sessionOf(request(store, id))).toBeUndefined();
    expect(store.size).toBe(0);
  });

  it("are capped: a new one ends the least recently used", () => {
    let now = 0;
    const store = new SessionStore(1, { maxSessions: 3, now: () => now });
    const [a, b, c] = [store.create(), store.create(), store.create()];
    now = 1;
    expect(store.sessionOf(request(store, a))).toBe(a);
    const d = store.create();
    expect(store.size).toBe(3);
    expect(store.sessionOf(request(store, b))).toBeUndefined();
    for (const id of [a, c, d]) expect(store.sessionOf(request(store, id))).toBe(id);
  });
});

describe("dashboard login", () => {
  let dashboard: DashboardServer | undefined;
  afterEach(async () => {
    await dashboard?.close();
  });

  it("exchanges the link for a session once; the used link is refused and a new one printed", async () => {
    const log: string[] = [];
    dashboard = new DashboardServer({
      port: 0,
      secrets: { loginToken: "t".repeat(48), otlpApiKey: "k".repeat(48), toolToken: "b".repeat(48) },
      log: (m) => log.push(m),
    });
    await dashboard.listen();
    const first = dashboard.loginUrl;
    const ok = await fetchLocalhost(first);
    expect(ok.status).toBe(302);
    const cookie = (ok.headers.get("set-cookie") ?? "").split(";")[0] ?? "";
    expect(
      (await fetchLocalhost(`${dashboard.browserUrl}/api/resources`, { headers: { cookie } })).status,
    ).toBe(200);
    const again = await fetchLocalhost(first);
    expect(again.status).toBe(401);
    expect(dashboard.loginUrl).not.toBe(first);
    expect(log.some((m) => m.includes(dashboard?.loginUrl ?? "?"))).toBe(true);
    expect((await fetchLocalhost(dashboard.loginUrl)).status).toBe(302);
  });
});
