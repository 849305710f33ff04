import { describe, expect, it } from "vitest";
import { createApp } from "./app-builder.js";
import { JAEGER_OTLP_HTTP_PORT } from "./jaeger.js";

describe("addContainer", () => {
  it("collects environment, endpoints, volumes, mounts, arguments and readiness", () => {
    const app = createApp();
    const cache = app
      .addContainer("cache", "redis:7")
      .withEnvironment("MODE", "dev")
      .withEndpoint(6379, "tcp")
      .withVolume("data", "/data")
      .withBindMount("./conf", "/etc/redis", { readOnly: true })
      .withArgs("redis-server", "--save", "60 1")
      .withLogReadiness(/Ready to accept connections/);
    expect(cache.image).toBe("redis:7");
    expect(cache.endpoints).toEqual([{ name: "tcp", targetPort: 6379, scheme: "tcp" }]);
    expect(cache.volumes).toEqual([{ name: "data", target: "/data" }]);
    expect(cache.bindMounts).toEqual([{ source: "./conf", target: "/etc/redis", readOnly: true }]);
    expect(cache.args).toEqual(["redis-server", "--save", "60 1"]);
    expect(cache.readiness).toMatchObject({ kind: "log", times: 1 });
    expect(cache.withImage("valkey/valkey", "8").image).toBe("valkey/valkey:8");
    expect(cache.imageVariable).toBe("APPHOST_IMAGE_CACHE");
  });

  it("refuses bad input with a message naming the culprit", () => {
    const app = createApp();
    const web = app.addContainer("web", "nginx");
    expect(() => web.withEndpoint(0)).toThrow(/Invalid target port 0/);
    expect(() => web.withEndpoint(80, "http").withEndpoint(81, "http")).toThrow(/declared twice/);
    expect(() => web.withVolume("data", "relative")).toThrow(/must be absolute/);
    expect(() => web.withHttpHealthCheck("health")).toThrow(/must start with/);
    expect(() => app.addContainer("bad", "not an image")).toThrow(/Invalid image reference/);
  });

  it("references parameters only: every other endpoint is on the host's loopback, out of its reach", () => {
    const app = createApp();
    const token = app.addParameter("token", { secret: true });
    const web = app.addContainer("web", "nginx:1.27").withHttpEndpoint(80);
    const db = app.addPostgres("pg").addDatabase("appdb");
    const api = app.addNodeApp("api", "api", { entry: "server.js" }).withReference(web);
    const tool = app.addExecutable("tool", "python3").withReference(web).withReference(api);
    expect(api.references).toEqual([web]);
    expect(tool.references.map((r) => r.name)).toEqual(["web", "api"]);
    const proxy = app.addContainer("proxy", "nginx:1.27").withReference(token);
    expect(proxy.references).toEqual([token]);
    expect(proxy.waitsFor.has(token)).toBe(true);
    for (const target of [web, db, api, tool])
      expect(() => proxy.withReference(target)).toThrow(
        new RegExp(
          `Container "proxy" cannot reference "${target.name}": .*127\\.0\\.0\\.1.*from a node app or executable`,
        ),
      );
  });

  it("gives Jaeger its UI and OTLP endpoints and an HTTP health check", () => {
    const jaeger = createApp().addJaeger();
    expect(jaeger.kind).toBe("jaeger");
    expect(jaeger.endpoints.map((e) => [e.name, e.targetPort])).toEqual([
      ["ui", 16686],
      ["otlp", JAEGER_OTLP_HTTP_PORT],
    ]);
    expect(jaeger.readiness).toEqual({ kind: "http", path: "/", endpoint: "ui" });
  });

  it("runs executables with arguments, references and an HTTP endpoint", () => {
    const app = createApp();
    const web = app.addContainer("web", "nginx").withHttpEndpoint(80);
    const tool = app.addExecutable("tool", "python3", ["-m", "http.server"]).withReference(web).waitFor(web);
    expect(tool.references.map((r) => r.name)).toEqual(["web"]);
    expect(tool.dependencies()).toEqual([web]);
    expect(() => app.addExecutable("empty", "")).toThrow(/needs a command/);
  });
});
