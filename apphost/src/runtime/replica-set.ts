import { NodeAppResource } from "../model/node-app.js";
import type { HealthStatus, Resource, ResourceState } from "../model/resource.js";
import type { ExitInfo } from "./managed-process.js";
import type { ResourceProvider, StartContext, StartedResource } from "./provider.js";

/** One replica of a service as state.json and the dashboard show it. */
export interface ReplicaSnapshot {
  name: string;
  index: number;
  state: ResourceState;
  health: HealthStatus;
  healthDetail?: string;
  pid: number | null;
  endpoints: Record<string, string>;
  exitCode?: number | null;
  startedAt?: string;
}

interface Replica {
  name: string;
  index: number;
  state: ResourceState;
  health: HealthStatus;
  healthDetail?: string;
  started?: StartedResource;
  startedAt?: string;
  exitCode?: number | null;
  /** Set while the AppHost stops or kills this replica, so its exit is not reported as a crash. */
  expectingExit: boolean;
}

/**
 * The n processes of one service, seen by the runtime as ONE started resource (so start order,
 * `waitFor` and whole-service stop work unchanged) while each replica can be killed, stopped and
 * started on its own. A replica that crashes stays down, like a single service does, and makes the
 * service Unhealthy until it is started again; the service as a whole never "exits" on its own.
 */
export class ReplicaSet implements StartedResource {
  private readonly replicas: Replica[];
  private readonly listeners = new Set<() => void>();
  private resolveExited!: (info: ExitInfo) => void;
  readonly exited: Promise<ExitInfo>;

  constructor(
    private readonly resource: NodeAppResource,
    private readonly provider: ResourceProvider<NodeAppResource>,
    private readonly context: StartContext,
  ) {
    this.replicas = resource
      .replicaNames()
      .map((name, index) => ({ name, index, state: "NotStarted", health: "Unknown", expectingExit: false }));
    this.exited = new Promise((resolve) => (this.resolveExited = resolve));
  }

  /** Starts every replica; a replica that fails to start fails the whole set (after stopping the rest). */
  async startAll(): Promise<void> {
    const results = await Promise.allSettled(this.replicas.map((r) => this.startReplica(r.index)));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
    if (failed) {
      await this.stop();
      throw failed.reason;
    }
  }

  has(name: string): boolean {
    return this.replicas.some((r) => r.name === name);
  }

  /** Starts one replica (again), with the same port, and resolves once its process runs. */
  async startReplica(index: number): Promise<void> {
    const replica = this.replica(index);
    if (replica.state === "Running" || replica.state === "Starting") return;
    this.set(replica, "Starting");
    let started: StartedResource;
    try {
      started = await this.provider.start(this.resource, {
        ...this.context,
        replica: { name: replica.name, index },
        extraEnvironment: {
          ...this.context.extraEnvironment,
          OTEL_RESOURCE_ATTRIBUTES: `service.instance.id=${replica.name}`,
        },
        log: (message) => this.context.logs.write(replica.name, "apphost", `[apphost] ${message}`),
      });
    } catch (error) {
      this.set(replica, "FailedToStart");
      throw error;
    }
    replica.started = started;
    replica.expectingExit = false;
    replica.exitCode = undefined;
    replica.startedAt = new Date().toISOString();
    this.set(replica, "Running");
    void started.exited.then((info) => {
      if (replica.started !== started || replica.expectingExit) return;
      this.log(
        replica.name,
        `exited unexpectedly (${info.signal ? `signal ${info.signal}` : `code ${info.code}`})`,
      );
      this.markExited(replica, info.code);
    });
  }

  /** SIGKILL one replica, as a crash would. */
  async killReplica(index: number): Promise<void> {
    const replica = this.replica(index);
    const started = replica.started;
    if (!started || replica.state === "Exited") return;
    replica.expectingExit = true;
    this.log(replica.name, "killing (SIGKILL)");
    await started.kill();
    await started.exited;
    this.markExited(replica, null);
  }

  async stopReplica(index: number): Promise<void> {
    const replica = this.replica(index);
    const started = replica.started;
    if (!started || replica.state === "Exited" || replica.state === "NotStarted") return;
    replica.expectingExit = true;
    this.set(replica, "Stopping");
    try {
      await started.stop();
    } catch (error) {
      this.log(replica.name, `stop failed: ${(error as Error).message}; killing`);
      await started.kill().catch(() => {});
    }
    this.markExited(replica, null);
    this.log(replica.name, "stopped");
  }

  /** Resolves once the replica is Running and its health check passes. */
  async replicaHealthy(index: number): Promise<boolean> {
    const replica = this.replica(index);
    if (replica.state !== "Running" || !replica.started) return false;
    return (await this.refresh(replica)).healthy;
  }

  indexOf(name: string): number {
    const found = this.replicas.find((r) => r.name === name);
    if (!found) throw new Error(`No replica named "${name}"`);
    return found.index;
  }

  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  snapshot(): ReplicaSnapshot[] {
    return this.replicas.map((r) => {
      const view: ReplicaSnapshot = {
        name: r.name,
        index: r.index,
        state: r.state,
        health: r.health,
        pid: r.state === "Running" || r.state === "Starting" ? (r.started?.pid ?? null) : null,
        endpoints: r.started?.endpoints ?? {},
      };
      if (r.healthDetail) view.healthDetail = r.healthDetail;
      if (r.exitCode !== undefined) view.exitCode = r.exitCode;
      if (r.startedAt) view.startedAt = r.startedAt;
      return view;
    });
  }

  // ---- StartedResource: the service as a whole ----

  /** The first running replica's process (the service's pid in one-line views). */
  get pid(): number | undefined {
    return this.firstRunning()?.started?.pid;
  }

  /** The first running replica's endpoints, so callers of the service reach a live instance. */
  get endpoints(): Record<string, string> {
    return (this.firstRunning() ?? this.replicas[0])?.started?.endpoints ?? {};
  }

  readonly connection = undefined;

  get environment(): Record<string, string> | undefined {
    return (this.firstRunning() ?? this.replicas[0])?.started?.environment;
  }

  /** Healthy when every replica is running and healthy: a missing replica is a degraded service. */
  async checkHealth(): Promise<{ healthy: boolean; detail?: string }> {
    const results = await Promise.all(
      this.replicas.map(async (r) =>
        r.state === "Running" && r.started ? this.refresh(r) : { healthy: false, detail: r.state },
      ),
    );
    const bad = results.flatMap((result, i) =>
      result.healthy ? [] : [`${this.replicas[i]?.name}: ${result.detail ?? "unhealthy"}`],
    );
    if (bad.length === 0) return { healthy: true };
    return {
      healthy: false,
      detail: `${this.replicas.length - bad.length}/${this.replicas.length} replicas healthy; ${bad.join("; ")}`,
    };
  }

  async stop(): Promise<void> {
    await Promise.all(this.replicas.map((r) => this.stopReplica(r.index)));
    this.resolveExited({ code: null, signal: null });
  }

  async kill(): Promise<void> {
    await Promise.all(this.replicas.map((r) => this.killReplica(r.index)));
    this.resolveExited({ code: null, signal: "SIGKILL" });
  }

  // ---- internals ----

  private async refresh(replica: Replica): Promise<{ healthy: boolean; detail?: string }> {
    const started = replica.started;
    if (!started) return { healthy: false, detail: "not started" };
    const result = await started.checkHealth().catch((e: Error) => ({ healthy: false, detail: e.message }));
    const health: HealthStatus = result.healthy ? "Healthy" : "Unhealthy";
    if (replica.started === started && replica.state === "Running") {
      if (health !== replica.health || result.detail !== replica.healthDetail) {
        replica.health = health;
        replica.healthDetail = result.detail;
        this.changed();
      }
    }
    return result;
  }

  private markExited(replica: Replica, code: number | null): void {
    replica.exitCode = code;
    replica.healthDetail = undefined;
    this.set(replica, "Exited");
  }

  private set(replica: Replica, state: ResourceState): void {
    replica.state = state;
    if (state !== "Running") replica.health = state === "Stopping" ? replica.health : "Unknown";
    this.changed();
  }

  private firstRunning(): Replica | undefined {
    return this.replicas.find((r) => r.state === "Running");
  }

  private replica(index: number): Replica {
    const found = this.replicas[index];
    if (!found) throw new Error(`"${this.resource.name}" has no replica ${index}`);
    return found;
  }

  private log(name: string, message: string): void {
    this.context.logs.write(name, "apphost", `[apphost] ${message}`);
  }

  private changed(): void {
    for (const listener of this.listeners) listener();
  }
}

/** The provider for a resource: services with more than one replica run as a ReplicaSet around it. */
export function withReplicas(resource: Resource, provider: ResourceProvider): ResourceProvider {
  if (resource instanceof NodeAppResource && resource.replicas > 1)
    return new ReplicatedServiceProvider(provider);
  return provider;
}

/** Replica names (`<service>-<i>`) must not collide with resource names: both are addressed by name. */
export function assertReplicaNamesFree(resources: Resource[]): void {
  const names = new Set(resources.map((r) => r.name));
  for (const resource of resources)
    if (resource instanceof NodeAppResource && resource.replicas > 1)
      for (const replica of resource.replicaNames())
        if (names.has(replica))
          throw new Error(`Replica name "${replica}" of "${resource.name}" is also a resource name`);
}

/** Where a replica name (`sender-1`) points among started resources, if it names one. */
export function findReplica(
  started: Iterable<StartedResource | undefined>,
  name: string,
): { set: ReplicaSet; index: number } | undefined {
  for (const candidate of started)
    if (candidate instanceof ReplicaSet && candidate.has(name))
      return { set: candidate, index: candidate.indexOf(name) };
  return undefined;
}

/** Replica rows for state.json: live ones once started, planned ones before. */
export function replicaSnapshots(
  resource: Resource,
  started: StartedResource | undefined,
): ReplicaSnapshot[] | undefined {
  if (started instanceof ReplicaSet) return started.snapshot();
  if (!(resource instanceof NodeAppResource) || resource.replicas < 2) return undefined;
  return resource.replicaNames().map((name, index) => ({
    name,
    index,
    state: "NotStarted",
    health: "Unknown",
    pid: null,
    endpoints: {},
  }));
}

/** Starts a service with more than one replica as a ReplicaSet around the service's own provider. */
export class ReplicatedServiceProvider implements ResourceProvider<NodeAppResource> {
  constructor(private readonly inner: ResourceProvider<NodeAppResource>) {}

  async start(resource: NodeAppResource, context: StartContext): Promise<StartedResource> {
    for (const name of resource.replicaNames()) context.logs.register(name);
    const set = new ReplicaSet(resource, this.inner, context);
    await set.startAll();
    return set;
  }
}
