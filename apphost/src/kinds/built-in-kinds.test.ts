import { describe, expect, it } from "vitest";
import { createApp } from "../model/app-builder.js";
import { Resource } from "../model/resource.js";
import { containerProviders, processProviders } from "../providers/provider-sets.js";
import type { StartContext, StartedResource } from "../runtime/provider.js";
import { artemisKind } from "./artemis.js";
import { containerKind } from "./container.js";
import { executableKind } from "./executable.js";
import { jaegerKind } from "./jaeger.js";
import { kafkaKind } from "./kafka.js";
import { nodeAppKind } from "./node-app.js";
import { nodeServiceKind } from "./node-service.js";
import { parameterKind } from "./parameter.js";
import { postgresDatabaseKind, postgresServerKind } from "./postgres.js";
import { defineResourceKind, type ResourceKindModule } from "./resource-kind.js";

const owner = { appName: "kinds", stateDir: "/nonexistent/kinds-test", runId: "run" };

function started(value: string): StartedResource {
  return {
    pid: undefined,
    endpoints: {},
    connection: undefined,
    value,
    exited: new Promise(() => {}),
    checkHealth: () => Promise.resolve({ healthy: true }),
    stop: () => Promise.resolve(),
    kill: () => Promise.resolve(),
  };
}

describe("the built-in kinds", () => {
  it("each resource of the model carries its kind's module", () => {
    const app = createApp();
    const server = app.addPostgres("pg");
    const kinds = new Map<Resource, ResourceKindModule>([
      [server, postgresServerKind],
      [server.addDatabase("db"), postgresDatabaseKind],
      [app.addArtemis("broker"), artemisKind],
      [app.addNodeApp("app", "app"), nodeAppKind],
      [app.addNpmScript("script", "app", "start"), nodeAppKind],
      [app.addNodeService("svc", "svc"), nodeServiceKind],
      [app.addExecutable("exe", "python3"), executableKind],
      [app.addContainer("web", "nginx"), containerKind],
      [app.addJaeger(), jaegerKind],
      [app.addKafka("kafka"), kafkaKind],
      [app.addParameter("param"), parameterKind],
    ]);
    for (const [resource, kind] of kinds) {
      expect(resource.kindModule, resource.name).toBe(kind);
      expect(resource.kind, resource.name).toBe(kind.name);
    }
    expect([...kinds.values()].map((k) => k.name)).toEqual([
      "postgres-server",
      "postgres-database",
      "artemis",
      "node-app",
      "node-app",
      "node-service",
      "executable",
      "container",
      "jaeger",
      "kafka",
      "parameter",
    ]);
  });

  it("artemis warns about a client given no address or queue, and only about it", () => {
    const app = createApp();
    const broker = app.addArtemis("broker").addQueue("orders");
    app.addNodeApp("idle", "idle").withReference(broker);
    app.addNodeApp("sender", "sender").withReference(broker).withEnvironment("Q", broker.sendsTo("orders"));
    const warnings = artemisKind.warnings?.(broker) ?? [];
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/^"idle" references "broker" but is given no address or queue on it/);
  });

  it("a database goes down with its server, not with another dependency", () => {
    const app = createApp();
    const server = app.addPostgres("pg");
    const other = app.addParameter("other");
    const database = server.addDatabase("db");
    expect(postgresDatabaseKind.dependencyExited?.(database, server)).toBe("server not running");
    expect(postgresDatabaseKind.dependencyExited?.(database, other)).toBeUndefined();
  });

  it("a secret parameter's value is masked and never in its snapshot; a plain one's is shown", () => {
    const app = createApp();
    const secret = app.addParameter("token", { secret: true });
    const plain = app.addParameter("region");
    expect(parameterKind.secrets?.(secret, started("s3cret-value"))).toEqual(["s3cret-value"]);
    expect(parameterKind.secrets?.(plain, started("eu-west"))).toEqual([]);
    expect(parameterKind.snapshotFields?.(secret, started("s3cret-value"))).toEqual({
      parameter: { secret: true },
    });
    expect(parameterKind.snapshotFields?.(plain, started("eu-west"))).toEqual({
      parameter: { secret: false, value: "eu-west" },
    });
    expect(parameterKind.snapshotFields?.(plain, undefined)).toEqual({ parameter: { secret: false } });
  });

  it("a service without migrations has nothing to run before its start", async () => {
    const service = createApp().addNodeService("svc", "svc");
    // An empty context: the hook must not touch it when there is no migrations step.
    await expect(nodeServiceKind.beforeStart?.(service, {} as StartContext)).resolves.toBeUndefined();
  });
});

describe("provider sets", () => {
  it("refuse a container-only kind in process mode, saying which mode it needs", () => {
    const app = createApp();
    const providers = processProviders(owner);
    for (const resource of [app.addContainer("web", "nginx"), app.addJaeger()])
      expect(() => providers.providerFor(resource)).toThrow(
        new RegExp(`^"${resource.name}" is a ${resource.kind} resource: it runs in container mode only`),
      );
  });

  it("refuse a process-only kind in container mode", () => {
    const kind = defineResourceKind<Resource>({
      name: "local-only",
      processProvider: () => ({ start: () => Promise.resolve(started("x")) }),
    });
    class LocalOnly extends Resource {
      constructor() {
        super("local", kind);
      }
    }
    expect(() => containerProviders(owner).providerFor(new LocalOnly())).toThrow(
      '"local" is a local-only resource: it runs in process mode only (--mode process)',
    );
    expect(processProviders(owner).providerFor(new LocalOnly())).toBeDefined();
  });

  it("make one provider per kind and run, from the kind's factory for the mode", () => {
    const app = createApp();
    const a = app.addExecutable("a", "true");
    const b = app.addExecutable("b", "true");
    const node = app.addNodeApp("n", "n");
    const providers = processProviders(owner);
    expect(providers.providerFor(a)).toBe(providers.providerFor(b));
    expect(providers.providerFor(node)).not.toBe(providers.providerFor(a));
    expect(processProviders(owner).providerFor(a)).not.toBe(providers.providerFor(a));
    const modes: string[] = [];
    const kind = defineResourceKind<Resource>({
      name: "both",
      processProvider: ({ mode }) => (modes.push(mode), { start: () => Promise.resolve(started("p")) }),
      containerProvider: ({ mode, owner }) => (
        modes.push(`${mode} ${owner.runId}`),
        { start: () => Promise.resolve(started("c")) }
      ),
    });
    class Both extends Resource {
      constructor() {
        super("both", kind);
      }
    }
    processProviders(owner).providerFor(new Both());
    containerProviders(owner).providerFor(new Both());
    expect(modes).toEqual(["process", "container run"]);
  });
});

describe("defineResourceKind", () => {
  it("refuses a kind that could never run, or a bad name", () => {
    expect(() => defineResourceKind({ name: "nothing" })).toThrow(
      'Resource kind "nothing" has neither a processProvider nor a containerProvider',
    );
    expect(() =>
      defineResourceKind({
        name: "Bad Name",
        processProvider: () => ({ start: () => Promise.reject(new Error("never")) }),
      }),
    ).toThrow(/Invalid resource kind name "Bad Name"/);
  });

  it("is what a resource must be given, not a kind's name", () => {
    class Named extends Resource {
      constructor() {
        super("named", "echo" as unknown as ResourceKindModule);
      }
    }
    expect(() => new Named()).toThrow(
      "A resource kind must be a ResourceKindModule (see defineResourceKind)",
    );
  });
});
