import type { HealthStatus, Resource, ResourceState } from "../model/resource.js";
import type { ExitInfo } from "./managed-process.js";
import type { ResourceProvider, RunningContainer, StartContext, StartedResource } from "./provider.js";

/** One replica of a resource as state.json and the dashboard show it. */
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
  /** Container resources: this replica's container. */
  container?: RunningContainer;
}

/** A resource kind that can run as several instances (node apps and containers: `withReplicas`). */
interface Replicable {
  readonly replicas: number;
  replicaNames(): string[];
}

function isReplicable(resource: Resource): resource is Resource & Replicable {
  return "replicas" in resource && typeof (resource as Partial<Replicable>).replicaNames === "function";
}

/**
 * The instances a resource runs as: its replicas (`<name>-<i>`) with `withReplicas(n > 1)`, else
 * one instance under the resource's own name.
 */
export function instanceNames(resource: Resource): string[] {
  return isReplicable(resource) && resource.replicas > 1 ? resource.replicaNames() : [resource.name];
}

/** Replica names (`<service>-<i>`) must not collide with resource names: both are addressed by name. */
export function assertReplicaNamesFree(resources: Resource[]): void {
  const names = new Set(resources.map((r) => r.name));
  for (const resource of resources) {
    const instances = instanceNames(resource);
    if (instances.length < 2) continue;
    for (const replica of instances)
      if (names.has(replica))
        throw new Error(`Replica name "${replica}" of "${resource.name}" is also a resource name`);
  }
}

interface Instance {
  name: string;
  index: number;
  state: ResourceState;
  health: HealthStatus;
  healthDetail?: string;
  started?: StartedResource;
  startedAt?: string;
  exitCode?: number | null;
  /** Set while the AppHost stops or kills this instance, so its exit is not reported as a crash. */
  expectingExit: boolean;
}

export interface InstanceSetEvents {
  /** Any instance changed state or health. */
  onChange: () => void;
  /** The last instance still up went down (exit code of that last one, null when stopped or killed). */
  onDown: (code: number | null) => void;
  /** A message from the AppHost about one instance (to that instance's log). */
  log: (instance: string, message: string) => void;
}

const UP: readonly ResourceState[] = ["Starting", "Running", "Stopping"];

/**
 * How every resource runs: as a set of one or more instances, each started, stopped, killed and
 * health-checked on its own (a single resource is a set of one, named like the resource). Seen from
 * the runtime the set is the resource's one started form: references read the first running
 * instance's endpoints and connection, and its health is that of every instance. An instance that
 * crashes stays down, as a single resource does; when none is up any more the resource is down.
 */
export class InstanceSet implements StartedResource {
  private readonly instances: Instance[];
  private provider: ResourceProvider | undefined;
  private context: StartContext | undefined;
  private resolveExited!: (info: ExitInfo) => void;
  /** Resolves the first time no instance is up any more after the set was started. */
  readonly exited: Promise<ExitInfo>;

  constructor(
    private readonly resource: Resource,
    private readonly events: InstanceSetEvents,
  ) {
    this.instances = instanceNames(resource).map((name, index) => ({
      name,
      index,
      state: "NotStarted",
      health: "Unknown",
      expectingExit: false,
    }));
    this.exited = new Promise((resolve) => (this.resolveExited = resolve));
  }

  get size(): number {
    return this.instances.length;
  }

  /** Whether start() has succeeded once: only then can other resources look this one up. */
  get launched(): boolean {
    return this.context !== undefined;
  }

  /** The index of the instance named `name`, if this set has one. */
  indexOf(name: string): number | undefined {
    return this.instances.find((i) => i.name === name)?.index;
  }

  /** Every index, for operations on the whole resource. */
  all(): number[] {
    return this.instances.map((i) => i.index);
  }

  /** Starts every instance; one that fails to start fails the set (after stopping the others). */
  async start(provider: ResourceProvider, context: StartContext): Promise<void> {
    this.provider = provider;
    if (this.size > 1) for (const instance of this.instances) context.logs.register(instance.name);
    const results = await Promise.allSettled(this.instances.map((i) => this.startInstance(i, context)));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
    if (failed) {
      await this.stop();
      throw failed.reason;
    }
    this.context = context;
  }

  /** Starts the given instances again (those that are down), with their ports, and resolves once they run. */
  async startInstances(indices: number[]): Promise<void> {
    const context = this.context;
    if (!context) throw new Error(`"${this.resource.name}" has not been started`);
    await Promise.all(indices.map((index) => this.startInstance(this.instance(index), context)));
  }

  /** Whether every one of these instances is up (Starting, Running or Stopping). */
  areUp(indices: number[]): boolean {
    return indices.every((index) => UP.includes(this.instance(index).state));
  }

  /** Whether every one of these instances is Running and passed its last health check. */
  areHealthy(indices: number[]): boolean {
    return indices.every((index) => {
      const instance = this.instance(index);
      return instance.state === "Running" && instance.health === "Healthy";
    });
  }

  /** Graceful stop of the given instances (default: all); one that will not stop is killed. */
  async stop(indices = this.all()): Promise<void> {
    await Promise.all(indices.map((index) => this.stopInstance(this.instance(index))));
  }

  /** SIGKILL the given instances (default: all), as a crash would. */
  async kill(indices = this.all()): Promise<void> {
    await Promise.all(indices.map((index) => this.killInstance(this.instance(index))));
  }

  /** The endpoints of one instance (the set's `endpoints` are the first running instance's). */
  endpointsOf(index: number): Record<string, string> {
    return this.instance(index).started?.endpoints ?? {};
  }

  snapshot(): ReplicaSnapshot[] {
    return this.instances.map((r) => {
      const up = r.state === "Running" || r.state === "Starting";
      const view: ReplicaSnapshot = {
        name: r.name,
        index: r.index,
        state: r.state,
        health: r.health,
        pid: up ? (r.started?.pid ?? null) : null,
        endpoints: r.started?.endpoints ?? {},
      };
      if (r.healthDetail) view.healthDetail = r.healthDetail;
      if (r.exitCode !== undefined) view.exitCode = r.exitCode;
      if (r.startedAt) view.startedAt = r.startedAt;
      if (up && r.started?.container) view.container = r.started.container;
      return view;
    });
  }

  // ---- StartedResource: the resource as a whole ----

  /** The first running instance's process (the resource's pid in one-line views). */
  get pid(): number | undefined {
    return this.firstRunning()?.started?.pid;
  }

  /** The first running instance's endpoints, so callers of the resource reach a live instance. */
  get endpoints(): Record<string, string> {
    return this.representative()?.started?.endpoints ?? {};
  }

  get connection(): StartedResource["connection"] {
    return this.representative()?.started?.connection;
  }

  get container(): RunningContainer | undefined {
    return this.representative()?.started?.container;
  }

  get value(): string | undefined {
    return this.representative()?.started?.value;
  }

  get environment(): Record<string, string> | undefined {
    return this.representative()?.started?.environment;
  }

  /**
   * Checks every instance (recording each one's health). Healthy when every instance is running
   * and healthy: a missing replica is a degraded resource.
   */
  async checkHealth(): Promise<{ healthy: boolean; detail?: string }> {
    const results = await Promise.all(
      this.instances.map(async (r) =>
        r.state === "Running" && r.started ? this.refresh(r) : { healthy: false, detail: r.state },
      ),
    );
    const only = results[0];
    if (results.length === 1 && only) return only;
    const bad = results.flatMap((result, i) =>
      result.healthy ? [] : [`${this.instances[i]?.name}: ${result.detail ?? "unhealthy"}`],
    );
    if (bad.length === 0) return { healthy: true };
    return {
      healthy: false,
      detail: `${this.size - bad.length}/${this.size} replicas healthy; ${bad.join("; ")}`,
    };
  }

  // ---- internals ----

  private async startInstance(instance: Instance, context: StartContext): Promise<void> {
    const provider = this.provider;
    if (!provider) throw new Error(`"${this.resource.name}" has no provider`);
    if (UP.includes(instance.state)) return;
    this.set(instance, "Starting");
    let started: StartedResource;
    try {
      started = await provider.start(this.resource, this.contextOf(instance, context));
    } catch (error) {
      this.set(instance, "FailedToStart");
      throw error;
    }
    instance.started = started;
    instance.expectingExit = false;
    instance.exitCode = undefined;
    instance.startedAt = new Date().toISOString();
    this.set(instance, "Running");
    void started.exited.then((info) => {
      if (instance.started !== started || instance.expectingExit) return;
      this.log(
        instance.name,
        `exited unexpectedly (${info.signal ? `signal ${info.signal}` : `code ${info.code}`})`,
      );
      this.markExited(instance, info.code);
    });
  }

  /** A single resource starts with the runtime's context; a replica under its own name and instance id. */
  private contextOf(instance: Instance, context: StartContext): StartContext {
    if (this.size === 1) return context;
    return {
      ...context,
      replica: { name: instance.name, index: instance.index },
      extraEnvironment: {
        ...context.extraEnvironment,
        OTEL_RESOURCE_ATTRIBUTES: `service.instance.id=${instance.name}`,
      },
      log: (message) => this.log(instance.name, message),
    };
  }

  private async killInstance(instance: Instance): Promise<void> {
    const started = instance.started;
    if (!started || instance.state === "Exited" || instance.state === "FailedToStart") return;
    instance.expectingExit = true;
    this.log(instance.name, "killing (SIGKILL)");
    await started.kill();
    await started.exited;
    this.markExited(instance, null);
  }

  private async stopInstance(instance: Instance): Promise<void> {
    const started = instance.started;
    if (!started || !UP.includes(instance.state)) return;
    instance.expectingExit = true;
    this.set(instance, "Stopping");
    try {
      await started.stop();
    } catch (error) {
      this.log(instance.name, `stop failed: ${(error as Error).message}; killing`);
      await started.kill().catch(() => {});
    }
    this.markExited(instance, null);
    this.log(instance.name, "stopped");
  }

  private async refresh(instance: Instance): Promise<{ healthy: boolean; detail?: string }> {
    const started = instance.started;
    if (!started) return { healthy: false, detail: "not started" };
    const result = await started.checkHealth().catch((e: Error) => ({ healthy: false, detail: e.message }));
    const health: HealthStatus = result.healthy ? "Healthy" : "Unhealthy";
    if (instance.started === started && instance.state === "Running") {
      if (health !== instance.health || result.detail !== instance.healthDetail) {
        instance.health = health;
        instance.healthDetail = result.detail;
        this.events.onChange();
      }
    }
    return result;
  }

  private markExited(instance: Instance, code: number | null): void {
    const wasUp = UP.includes(instance.state);
    instance.exitCode = code;
    instance.healthDetail = undefined;
    this.set(instance, "Exited");
    if (wasUp && !this.instances.some((i) => UP.includes(i.state))) {
      this.resolveExited({ code, signal: null });
      this.events.onDown(code);
    }
  }

  private set(instance: Instance, state: ResourceState): void {
    instance.state = state;
    if (state !== "Running") instance.health = state === "Stopping" ? instance.health : "Unknown";
    this.events.onChange();
  }

  private firstRunning(): Instance | undefined {
    return this.instances.find((r) => r.state === "Running");
  }

  /** The instance that stands for the resource: the first running one, else the first. */
  private representative(): Instance | undefined {
    return this.firstRunning() ?? this.instances[0];
  }

  private instance(index: number): Instance {
    const found = this.instances[index];
    if (!found) throw new Error(`"${this.resource.name}" has no replica ${index}`);
    return found;
  }

  private log(name: string, message: string): void {
    this.events.log(name, message);
  }
}
