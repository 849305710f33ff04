import { describe, expect, it } from "vitest";
import type { ResourceSnapshot } from "../runtime/distributed-application.js";
import { ConsoleReporter } from "./console-reporter.js";
import { Terminal } from "./terminal.js";

function resource(
  name: string,
  state: ResourceSnapshot["state"],
  health: ResourceSnapshot["health"],
): ResourceSnapshot {
  return {
    name,
    kind: "node-service",
    state,
    health,
    pid: 1,
    endpoints: { http: `http://127.0.0.1:1/${name}` },
    logFile: "",
    dependsOn: [],
  };
}

describe("ConsoleReporter", () => {
  it("prints one line per resource when it first becomes healthy, and later only what changes", () => {
    let resources: ResourceSnapshot[] = [];
    const listeners = new Set<() => void>();
    const app = {
      snapshot: () => resources,
      onChange: (l: () => void) => (listeners.add(l), () => listeners.delete(l)),
    };
    const writes: string[] = [];
    const reporter = new ConsoleReporter(
      app,
      new Terminal({ isTTY: false, write: (t: string) => (writes.push(t), true) }),
    );
    const set = (...next: ResourceSnapshot[]) => {
      resources = next;
      for (const listener of listeners) listener();
    };
    set(resource("api", "Waiting", "Unknown"));
    set(resource("api", "Starting", "Unknown"));
    set(resource("api", "Running", "Unknown"));
    set(resource("api", "Running", "Healthy"));
    set(resource("api", "Running", "Healthy")); // no change: no line
    set(resource("api", "Running", "Unhealthy"));
    set(resource("api", "Running", "Healthy"));
    set(resource("api", "Stopping", "Healthy"));
    set({ ...resource("api", "Exited", "Unknown"), exitCode: null });
    set(resource("api", "Starting", "Unknown"));
    set(resource("api", "Running", "Healthy"));
    set({ ...resource("api", "Exited", "Unknown"), exitCode: 1 });
    reporter.stop();
    set(resource("api", "Running", "Healthy")); // after stop(): silent
    const lines = writes.join("").trimEnd().split("\n");
    expect(lines).toHaveLength(7);
    expect(lines[0]).toMatch(
      /^ {2}✓ api +node-service +healthy after +\d+\.\d s {2}http:\/\/127\.0\.0\.1:1\/api$/,
    );
    expect(lines.slice(1).map((l) => l.replace(/\s+/g, " ").trim())).toEqual([
      "! api unhealthy: no detail",
      "✓ api healthy again",
      "… api stopping",
      "■ api stopped",
      "✓ api restarted, healthy http://127.0.0.1:1/api",
      "✗ api exited with code 1 (see: npm run apphost -- logs api)",
    ]);
  });

  it("says why a start failed: the error and its cause, the resource a dependent waited for, a cancelled start", () => {
    let resources: ResourceSnapshot[] = [];
    const listeners = new Set<() => void>();
    const app = {
      snapshot: () => resources,
      onChange: (l: () => void) => (listeners.add(l), () => listeners.delete(l)),
    };
    const writes: string[] = [];
    new ConsoleReporter(app, new Terminal({ isTTY: false, write: (t: string) => (writes.push(t), true) }));
    resources = [
      {
        ...resource("db-server", "FailedToStart", "Unknown"),
        stateReason: "could not copy the binaries; cause: ENOENT: no such file",
      },
      {
        ...resource("db", "FailedToStart", "Unknown"),
        stateReason: 'waited for "db-server", which failed to start: could not copy the binaries',
        failedDependency: "db-server",
      },
      {
        ...resource("broker", "FailedToStart", "Unknown"),
        stateReason: "start cancelled: db-server failed to start",
      },
    ];
    for (const listener of listeners) listener();
    expect(
      writes
        .join("")
        .trimEnd()
        .split("\n")
        .map((l) => l.replace(/\s+/g, " ").trim()),
    ).toEqual([
      "✗ db-server failed to start: could not copy the binaries; cause: ENOENT: no such file (log: npm run apphost -- logs db-server)",
      "✗ db not started: waited for db-server, which failed to start",
      "■ broker start cancelled: db-server failed to start",
    ]);
  });
});
