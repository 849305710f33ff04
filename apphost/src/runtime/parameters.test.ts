import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { createApp } from "../model/app-builder.js";
import { ParameterResource } from "../model/parameter.js";
import { CommandError, runCommand } from "./commands.js";
import { maskSecrets, resolveParameter } from "./parameters.js";
import type { StartedResource } from "./provider.js";
import { SettingsStore } from "./settings-store.js";

const dirs: string[] = [];
afterEach(async () => {
  for (const dir of dirs.splice(0)) await fs.rm(dir, { recursive: true, force: true });
});

async function settings(): Promise<{ store: SettingsStore; file: string }> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), "apphost-params-"));
  dirs.push(dir);
  const file = path.join(dir, "settings.json");
  return { store: await SettingsStore.load(file), file };
}

describe("parameters", () => {
  it("resolve from Parameters__<name>, then stored settings, then the default", async () => {
    const { store } = await settings();
    const p = new ParameterResource("log-level", { default: "info" });
    expect(resolveParameter(p, {}, store)).toEqual({ value: "info", source: "default" });
    store.setValue("log-level", "warn");
    expect(resolveParameter(p, {}, store)).toEqual({ value: "warn", source: "settings" });
    expect(resolveParameter(p, { Parameters__log_level: "debug" }, store)).toEqual({
      value: "debug",
      source: "environment",
    });
    // The exact name wins over the shell-friendly spelling.
    expect(
      resolveParameter(p, { "Parameters__log-level": "trace", Parameters__log_level: "debug" }, store).value,
    ).toBe("trace");
  });

  it("generate a secret once and store it (0600), and fail clearly when a plain parameter has no value", async () => {
    const { store, file } = await settings();
    const secret = new ParameterResource("api-key", { secret: true });
    const first = resolveParameter(secret, {}, store);
    expect(first.source).toBe("generated");
    expect(first.value).toMatch(/^[A-Za-z0-9]{32}$/);
    await store.save();
    expect((await fs.stat(file)).mode & 0o777).toBe(0o600);
    const reloaded = await SettingsStore.load(file);
    expect(resolveParameter(secret, {}, reloaded)).toEqual({ value: first.value, source: "settings" });
    expect(() => resolveParameter(new ParameterResource("region"), {}, store)).toThrow(
      /Parameter "region" has no value: set Parameters__region/,
    );
  });

  it("are dependencies of the services that use them, and are masked in text", () => {
    const app = createApp();
    const key = app.addParameter("api-key", { secret: true });
    const level = app.addParameter("level", { default: "info" });
    const service = app.addNodeService("svc", "svc").withReference(key).withEnvironment("LOG_LEVEL", level);
    expect(service.dependencies().map((d) => d.name)).toEqual(["api-key", "level"]);
    expect(service.parameterEnvironment.get("LOG_LEVEL")).toBe(level);
    expect(maskSecrets("token=abcd1234 and abcd1234", ["abcd1234"])).toBe("token=*** and ***");
    expect(maskSecrets("a b", ["a"])).toBe("a b");
  });
});

describe("custom commands", () => {
  const started = {
    endpoints: { http: "http://127.0.0.1:1" },
    environment: { X: "1" },
  } as unknown as StartedResource;

  it("run the handler with the running resource's endpoints and log the outcome", async () => {
    const app = createApp();
    const seen: unknown[] = [];
    const svc = app.addNodeService("svc", "svc").withCommand("ping", "Ping", (context) => {
      seen.push(context.endpoints, context.environment);
      return Promise.resolve({ message: "pong" });
    });
    const log: string[] = [];
    await expect(runCommand(svc, started, "ping", (m) => log.push(m))).resolves.toEqual({ message: "pong" });
    expect(seen).toEqual([{ http: "http://127.0.0.1:1" }, { X: "1" }]);
    expect(log).toEqual(['command "Ping" started', 'command "Ping" succeeded: pong']);
  });

  it("refuse unknown commands and stopped resources, and report a handler's failure", async () => {
    const svc = createApp()
      .addNodeService("svc", "svc")
      .withCommand("boom", "Boom", () => Promise.reject(new Error("kaput")));
    await expect(runCommand(svc, started, "nope", () => {})).rejects.toMatchObject({ status: 404 });
    await expect(runCommand(svc, undefined, "boom", () => {})).rejects.toBeInstanceOf(CommandError);
    const log: string[] = [];
    await expect(runCommand(svc, started, "boom", (m) => log.push(m))).rejects.toThrow("kaput");
    expect(log.at(-1)).toBe('command "Boom" failed: kaput');
    expect(() => svc.withCommand("boom", "Again", async () => {})).toThrow(/declared twice/);
    expect(() => svc.withCommand("Bad Name", "x", async () => {})).toThrow(/Invalid command name/);
  });
});
