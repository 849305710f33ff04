import { randomUUID } from "node:crypto";
import fs from "node:fs/promises";
import path from "node:path";
import { setMaxListeners } from "node:events";
import type { DownloadProgress } from "../artemis/distribution.js";
import type { AppBuilder } from "../model/app-builder.js";
import type { CommandInfo, CommandResult } from "../model/commands.js";
import type { HealthStatus, Resource, ResourceState } from "../model/resource.js";
import { createProviders } from "../providers/provider-sets.js";
import { maskUri, telemetryEnvironment } from "./environment.js";
import { writeFileAtomic } from "./files.js";
import { dependentsOf, startOrder } from "./graph.js";
import { wipeStateDirectory } from "./fresh.js";
import { clearLeftovers, processIdentity } from "./leftovers.js";
import { runCommand } from "./commands.js";
import { LogSink } from "./log-sink.js";
import { maskSecrets } from "./parameters.js";
import { InstanceSet, assertReplicaNamesFree, type ReplicaSnapshot } from "./replica-set.js";
import type { ProviderSet, ResourceProvider, RunningContainer, StartContext } from "./provider.js";
import { SettingsStore } from "./settings-store.js";
import {
  ApplicationStartError,
  DependencyFailedError,
  StartCancelledError,
  describeError,
  exitedDuringStart,
  type StartFailure,
} from "./start-errors.js";
import { sleep, waitUntil } from "./wait.js";

export interface RunOptions {
  /** Repository root: service folders are resolved from here. */
  rootDir: string;
  /** Where data, logs, settings and state.json live (default `<rootDir>/.apphost`). */
  stateDir?: string;
  /** Wipe data before starting. */
  fresh?: boolean;
  /**
   * The caller already wiped the state directory (the CLI does, before its dashboard writes into
   * it): `fresh` then only removes what lives outside it (container volumes).
   */
  stateWiped?: boolean;
  /** Print resource output to the console. */
  console?: boolean;
  colour?: boolean;
  otlpEndpoint?: string;
  otlpHeaders?: string;
  /** The provider mode that was resolved (recorded in state.json). */
  mode?: "process" | "container";
  /** How long a resource may take to become healthy. */
  healthTimeoutMs?: number;
  /** Progress of long downloads during start (the CLI's progress bar). */
  progress?: (event: DownloadProgress) => void;
}

export interface ResourceSnapshot {
  name: string;
  kind: Resource["kind"];
  state: ResourceState;
  health: HealthStatus;
  healthDetail?: string;
  /**
   * Why the resource is in its state: what it waits for (`Waiting`), or the error that made its
   * start fail, with its causes (`FailedToStart`).
   */
  stateReason?: string;
  /** FailedToStart because this resource, which it waited for, failed to start. */
  failedDependency?: string;
  pid: number | null;
  endpoints: Record<string, string>;
  connectionString?: string;
  exitCode?: number | null;
  startedAt?: string;
  logFile: string;
  dependsOn: string[];
  /** See leftovers.ts: which process `pid` was, so a reused pid is never mistaken for it. */
  pidIdentity?: string;
  /** Resources with `withReplicas(n > 1)`: each replica's own state, pid and endpoints. */
  replicas?: ReplicaSnapshot[];
  /** Container mode: the container that runs the resource. */
  container?: RunningContainer;
  /** Parameters: the value (absent for a secret, which is never shown). */
  parameter?: { secret: boolean; value?: string };
  /** Custom commands (`withCommand`). */
  commands?: CommandInfo[];
}

interface Entry {
  resource: Resource;
  /** Boot id and start time of the resource's process: a later AppHost kills it only if both match. */
  pidIdentity?: string;
  state: ResourceState;
  health: HealthStatus;
  healthDetail?: string;
  /** See ResourceSnapshot.stateReason. */
  stateReason?: string;
  /** How the last start failed: its own error, a dependency's failure, or cancelled by a stop. */
  failure?: { kind: "own" | "dependency" | "cancelled"; dependency?: string };
  /**
   * The resource's instances (one, or its replicas): planned ones before the first start, then
   * those of the latest start. Every start, stop, kill and health check goes through them.
   */
  instances: InstanceSet;
  startedAt?: string;
  exitCode?: number | null;
  /** Settles when the resource is Running and Healthy (what `waitFor` waits for). */
  healthy: Deferred;
}

/**
 * The running form of an application model: starts resources in dependency order, each once what
 * it waits for is Running and Healthy; watches health; stops everything in reverse order; and keeps
 * `.apphost/state.json` up to date for tools and tests.
 */
export class DistributedApplication {
  readonly stateDir: string;
  readonly logs: LogSink;
  private readonly entries = new Map<string, Entry>();
  private readonly order: Resource[];
  private readonly abort = new AbortController();
  private settings: SettingsStore | undefined;
  private monitor: Promise<void> | undefined;
  private stateWrite: Promise<void> = Promise.resolve();
  private stopped = false;
  private stopping: Promise<void> | undefined;
  /** Why the application stops, for the starts it cancels. */
  private stopCause = "the application is stopping";
  /** Starts in flight: stop() waits for them, so that nothing they spawn outlives it. */
  private readonly starting = new Set<Promise<void>>();
  private apphostIdentity: string | undefined;
  private readonly instanceId = randomUUID();
  private readonly changeListeners = new Set<() => void>();
  private readonly providers: ProviderSet;
  private readonly storedSecrets: string[];

  constructor(
    readonly model: AppBuilder,
    private readonly options: RunOptions,
  ) {
    this.stateDir = path.resolve(options.stateDir ?? path.join(options.rootDir, ".apphost"));
    this.providers = createProviders(options.mode ?? "process", {
      appName: model.name,
      stateDir: this.stateDir,
      runId: this.instanceId,
    });
    this.order = startOrder(model.resources());
    this.storedSecrets = SettingsStore.storedSecretValues(path.join(this.stateDir, "settings.json"));
    // Every concurrent wait (health polls, start-up probes) listens on this one signal.
    setMaxListeners(0, this.abort.signal);
    this.logs = new LogSink({
      directory: path.join(this.stateDir, "logs"),
      console: options.console ?? false,
      colour: options.colour ?? false,
      mask: (text) => maskSecrets(text, this.secretValues()),
    });
    this.logs.register("apphost");
    assertReplicaNamesFree(model.resources());
    for (const resource of this.order) {
      this.logs.register(resource.name);
      this.entries.set(resource.name, {
        resource,
        state: "NotStarted",
        health: "Unknown",
        instances: this.newInstances(resource),
        healthy: deferred(),
      });
    }
  }

  /** Starts every resource; rejects (after stopping what started) if one fails to start or become healthy. */
  async start(): Promise<void> {
    if (this.options.fresh && !this.options.stateWiped) {
      await clearLeftovers(this.stateFile, (message) => this.log("apphost", message));
      await wipeStateDirectory(this.stateDir, (message) => this.log("apphost", message));
    }
    await fs.mkdir(this.stateDir, { recursive: true, mode: 0o700 });
    await clearLeftovers(this.stateFile, (message) => this.log("apphost", message));
    this.apphostIdentity = await processIdentity(process.pid);
    await this.providers.prepare({ fresh: this.options.fresh ?? false, log: (m) => this.log("apphost", m) });
    this.settings = await SettingsStore.load(path.join(this.stateDir, "settings.json"));
    this.warnAboutIdleBrokerClients();
    await this.writeState();
    this.monitor = this.watchHealth();
    const starts = this.order.map((r) => this.startOne(r));
    // The first failure ends the start at once: nothing can become healthy without the failed
    // resource's dependents, and the starts still in flight are cancelled, not waited for.
    const failed = await new Promise<string | undefined>((resolve) => {
      let left = starts.length;
      starts.forEach((start, i) => {
        void start.then(
          () => --left === 0 && resolve(undefined),
          () => resolve(this.order[i]?.name),
        );
      });
      if (left === 0) resolve(undefined);
    });
    if (failed === undefined) {
      // Tools and tests read state.json as soon as start() returns: the last write must have landed.
      await this.stateWrite;
      return;
    }
    // The failure reaches the dependents through promise callbacks only (no timers): once this
    // macrotask turn comes, each of them has failed with it, before the stop could cancel them.
    await new Promise((resolve) => setImmediate(resolve));
    const failures = this.startFailures();
    if (failures.length > 0) this.stopCause = `${failures.map((f) => f.resource).join(", ")} failed to start`;
    const atFailure = this.snapshot();
    await this.stop();
    await Promise.allSettled(starts);
    throw failures.length > 0
      ? new ApplicationStartError(
          failures,
          this.snapshot().map((r, i) => ({ ...r, pid: atFailure[i]?.pid ?? null })),
        )
      : new ApplicationStartError([], this.snapshot(), `The start was cancelled (${this.stopCause})`);
  }

  /** Resources whose own start failed (their dependents and cancelled starts are not causes). */
  private startFailures(): StartFailure[] {
    return this.order.flatMap((resource) => {
      const entry = this.entry(resource.name);
      if (entry.state !== "FailedToStart" || entry.failure?.kind !== "own") return [];
      return [
        {
          resource: resource.name,
          reason: entry.stateReason ?? "unknown error",
          // The reason itself is the first line of the message already.
          lastOutput: this.logs
            .recentLines(resource.name, 16)
            .filter((line) => !line.startsWith("[apphost] failed to start: "))
            .slice(-15),
        },
      ];
    });
  }

  /** Each kind's warnings about its resources' model (a broker: clients given nothing on it). */
  private warnAboutIdleBrokerClients(): void {
    for (const resource of this.order)
      for (const warning of resource.kindModule.warnings?.(resource) ?? [])
        this.log("apphost", `warning: ${warning}`);
  }

  /**
   * Stops everything in reverse dependency order, after cancelling the starts in flight (and
   * waiting until they have cleaned up). Safe to call twice: both calls resolve when it is done.
   */
  stop(): Promise<void> {
    this.stopping ??= this.stopEverything();
    return this.stopping;
  }

  private async stopEverything(): Promise<void> {
    this.stopped = true;
    this.abort.abort();
    await Promise.allSettled([...this.starting]);
    for (const resource of [...this.order].reverse()) await this.stopOne(resource);
    await this.providers
      .dispose((m) => this.log("apphost", m))
      .catch((error: Error) => this.log("apphost", `cleanup failed: ${error.message}`));
    await this.monitor;
    await this.writeState();
    await this.stateWrite;
    await this.logs.close();
  }

  // ---- per-resource control (tests, dashboard) ----

  /**
   * SIGKILL: what a crash looks like. A resource name kills all its instances, a replica name
   * (`sender-1`) that one; either stays down until `startResource`.
   */
  async killResource(name: string): Promise<void> {
    const { entry, indices } = this.address(name);
    await entry.instances.kill(indices);
  }

  /** Graceful stop of a resource (all its instances) or of one replica. */
  async stopResource(name: string): Promise<void> {
    const { entry, indices } = this.address(name);
    await this.stopInstances(entry, indices);
  }

  /**
   * Starts a stopped, killed or exited resource (or replica) again with the same ports,
   * credentials and data, and resolves once it is healthy. Instances of a running resource start
   * on their own; a resource that is down starts as a whole, after what it waits for.
   */
  async startResource(name: string): Promise<void> {
    const { entry, indices } = this.address(name);
    if (entry.state === "Starting") return;
    if (entry.state === "Running") {
      if (entry.instances.areUp(indices)) return;
      await entry.instances.startInstances(indices);
      return this.waitForHealthy(name);
    }
    // Dependents already waiting for this resource (it exited) hold the pending promise: keep it.
    if (entry.healthy.settled) entry.healthy = deferred();
    await this.startOne(entry.resource);
  }

  async restartResource(name: string): Promise<void> {
    await this.stopResource(name);
    await this.startResource(name);
  }

  /** Resolves once the resource (every instance) or the replica is Running and its health check passes. */
  async waitForHealthy(name: string, timeoutMs = this.options.healthTimeoutMs ?? 120_000): Promise<void> {
    const { entry, indices } = this.address(name);
    await waitUntil(async () => entry.state === "Running" && (await this.refreshHealth(entry, indices)), {
      timeoutMs,
      intervalMs: 200,
      what: `${name} to be healthy`,
    });
  }

  /** waitForHealthy for a start in flight: the application's stop cancels it. */
  private async waitUntilHealthy(entry: Entry): Promise<void> {
    const timeoutMs = this.options.healthTimeoutMs ?? 120_000;
    await waitUntil(async () => entry.state === "Running" && (await this.refreshHealth(entry)), {
      timeoutMs,
      intervalMs: 200,
      signal: this.abort.signal,
      what: `${entry.resource.name} to be healthy`,
    });
  }

  snapshot(): ResourceSnapshot[] {
    return this.order.map((resource) => {
      const entry = this.entry(resource.name);
      const snapshot: ResourceSnapshot = {
        name: resource.name,
        kind: resource.kind,
        state: entry.state,
        health: entry.health,
        pid: entry.state === "Running" || entry.state === "Starting" ? (entry.instances.pid ?? null) : null,
        ...(entry.pidIdentity && (entry.state === "Running" || entry.state === "Starting")
          ? { pidIdentity: entry.pidIdentity }
          : {}),
        endpoints: entry.instances.endpoints,
        logFile: this.logs.fileOf(resource.name),
        dependsOn: resource.dependencies().map((d) => d.name),
      };
      if (entry.healthDetail) snapshot.healthDetail = entry.healthDetail;
      if (entry.stateReason) snapshot.stateReason = entry.stateReason;
      if (entry.state === "FailedToStart" && entry.failure?.dependency)
        snapshot.failedDependency = entry.failure.dependency;
      const connection = entry.instances.connection;
      if (connection) snapshot.connectionString = connection.uri;
      if (entry.startedAt) snapshot.startedAt = entry.startedAt;
      if (entry.exitCode !== undefined) snapshot.exitCode = entry.exitCode;
      if (entry.instances.size > 1) snapshot.replicas = entry.instances.snapshot();
      const container = entry.instances.container;
      if (container) snapshot.container = container;
      Object.assign(snapshot, resource.kindModule.snapshotFields?.(resource, entry.instances));
      if (resource.commands.length > 0)
        snapshot.commands = resource.commands.map(({ name, label, confirm, description }) => ({
          name,
          label,
          confirm,
          description,
        }));
      return snapshot;
    });
  }

  resource(name: string): ResourceSnapshot {
    const found = this.snapshot().find((r) => r.name === name);
    if (!found) throw new Error(`No resource named "${name}"`);
    return found;
  }

  getEndpoint(name: string, endpoint = "http"): string {
    const { entry, indices, whole } = this.address(name);
    const [index = 0] = indices;
    const url = (whole ? entry.instances.endpoints : entry.instances.endpointsOf(index))[endpoint];
    if (!url) throw new Error(`Resource "${name}" has no running "${endpoint}" endpoint`);
    return url;
  }

  getConnectionString(name: string): string {
    const uri = this.entry(name).instances.connection?.uri;
    if (!uri) throw new Error(`Resource "${name}" has no connection string (is it running infrastructure?)`);
    return uri;
  }

  /** A database's owner URL (what a service's migrations step gets as `<NAME>_MIGRATIONS_URI`): for tests. */
  getMigrationsConnectionString(name: string): string {
    const uri = this.entry(name).instances.connection?.migrationsUri;
    if (!uri)
      throw new Error(`Resource "${name}" has no migrations connection string (is it a running database?)`);
    return uri;
  }

  /** What the AppHost injected into a service's environment (unmasked; the dashboard masks it). */
  environmentOf(name: string): Record<string, string> | undefined {
    return this.entry(name).instances.environment;
  }

  /**
   * Values of secret parameters and every credential the AppHost generated (database, broker and
   * admin secrets), so that every view can mask them.
   */
  secretValues(): string[] {
    const parameters = this.order.flatMap(
      (r) => r.kindModule.secrets?.(r, this.entry(r.name).instances) ?? [],
    );
    // Before start() loads the settings, those of the last run (the dashboard seeds its console
    // with that run's log lines before the start).
    return [...parameters, ...(this.settings?.secretValues() ?? this.storedSecrets)];
  }

  /** Runs a resource's custom command (it must be running); rejects with the handler's error. */
  async runCommand(name: string, command: string): Promise<CommandResult> {
    const entry = this.entry(name);
    return runCommand(
      entry.resource,
      entry.state === "Running" ? entry.instances : undefined,
      command,
      (message) => this.log(name, message),
    );
  }

  /** Called after any state or health change (the dashboard's live Resources view). */
  onChange(listener: () => void): () => void {
    this.changeListeners.add(listener);
    return () => this.changeListeners.delete(listener);
  }

  /** How infrastructure runs in this application. */
  get mode(): "process" | "container" {
    return this.providers.mode;
  }

  get stateFile(): string {
    return path.join(this.stateDir, "state.json");
  }

  // ---- internals ----

  private startOne(resource: Resource): Promise<void> {
    const start = this.startOneNow(resource);
    this.starting.add(start);
    void start.then(
      () => this.starting.delete(start),
      () => this.starting.delete(start),
    );
    return start;
  }

  private async startOneNow(resource: Resource): Promise<void> {
    const entry = this.entry(resource.name);
    entry.failure = undefined;
    const dependencies = resource.dependencies();
    // waitForDependencies marks the entry FailedToStart itself when it gives up.
    if (dependencies.length > 0) await this.waitForDependencies(entry, dependencies);
    if (this.stopped) {
      const cancelled = new StartCancelledError(this.stopCause);
      this.failStart(entry, cancelled);
      throw cancelled;
    }
    this.setState(entry, "Starting");
    this.log(resource.name, "starting");
    let startedNow: InstanceSet | undefined;
    try {
      const context: StartContext = {
        rootDir: this.options.rootDir,
        dataDir: path.join(this.stateDir, "data", resource.name),
        settings: this.requireSettings(),
        logs: this.logs,
        log: (message) => this.log(resource.name, message),
        lookup: (name) => {
          const started = this.entry(name).instances;
          if (!started.launched)
            throw new Error(`"${resource.name}" references "${name}", which is not running`);
          return started;
        },
        extraEnvironment: telemetryEnvironment({
          serviceName: resource.name,
          otlpEndpoint: this.options.otlpEndpoint,
          otlpHeaders: this.options.otlpHeaders,
          instanceId: `${resource.name}-${this.instanceId.slice(0, 8)}`,
        }),
        signal: this.abort.signal,
        progress: this.options.progress,
      };
      // Once per start, before any replica (a service's migrations step).
      await resource.kindModule.beforeStart?.(resource, context);
      const started = this.newInstances(resource);
      entry.instances = started;
      startedNow = started;
      // A set that fails to start has stopped the instances it had started.
      await started.start(this.providerFor(resource), context);
      entry.pidIdentity = started.pid === undefined ? undefined : await processIdentity(started.pid);
      entry.exitCode = undefined;
      entry.startedAt = new Date().toISOString();
      this.setState(entry, "Running");
      // A process that dies before it is healthy fails its start now, not at the health timeout
      // (watch mode restarts a service with a typo; the fix must not wait two minutes).
      await Promise.race([
        this.waitUntilHealthy(entry),
        started.exited.then((info) => {
          throw exitedDuringStart(
            `exited before becoming healthy (${info.signal ? `signal ${info.signal}` : `code ${info.code}`})`,
            this.logs.recentLines(resource.name, 40),
          );
        }),
      ]);
      entry.healthy.resolve();
      const where = Object.values(started.endpoints).join(" ");
      this.log(resource.name, `running and healthy${where ? ` at ${where}` : ""}`);
    } catch (error) {
      // Each instance that will not stop is killed.
      if (startedNow) await startedNow.stop();
      this.failStart(entry, this.stopped ? new StartCancelledError(this.stopCause) : error);
      throw error;
    }
  }

  /**
   * Waits until every dependency is Running and Healthy; the entry says which ones it still waits
   * for. As soon as one of them fails to start, or the application stops, the entry is marked
   * FailedToStart (synchronously, so that its own dependents see it at once) and this rejects.
   */
  private waitForDependencies(entry: Entry, dependencies: Resource[]): Promise<void> {
    const pending = new Set(dependencies.map((d) => d.name));
    const show = () => this.setState(entry, "Waiting", `waiting for ${[...pending].join(", ")}`);
    show();
    return new Promise<void>((resolve, reject) => {
      const signal = this.abort.signal;
      const failedDependency = () =>
        dependencies.find((d) => this.entry(d.name).state === "FailedToStart")?.name;
      const dependencyFailed = (name: string) =>
        new DependencyFailedError(name, this.entry(name).stateReason ?? "unknown error");
      const giveUp = (error: Error) => {
        signal.removeEventListener("abort", onAbort);
        this.failStart(entry, error);
        reject(error);
      };
      const onAbort = () => {
        // A dependency that failed is the reason, not the stop that its failure caused.
        const failed = failedDependency();
        giveUp(failed ? dependencyFailed(failed) : new StartCancelledError(this.stopCause));
      };
      if (signal.aborted) return onAbort();
      signal.addEventListener("abort", onAbort, { once: true });
      for (const dependency of dependencies) {
        this.entry(dependency.name).healthy.promise.then(
          () => {
            if (entry.state !== "Waiting") return;
            pending.delete(dependency.name);
            if (pending.size > 0) return show();
            signal.removeEventListener("abort", onAbort);
            resolve();
          },
          () => {
            if (entry.state === "Waiting") giveUp(dependencyFailed(dependency.name));
          },
        );
      }
    });
  }

  /** FailedToStart with the reason in the resource's log, state.json and the console; dependents learn of it. */
  private failStart(entry: Entry, error: unknown): void {
    const kind =
      error instanceof DependencyFailedError
        ? "dependency"
        : error instanceof StartCancelledError
          ? "cancelled"
          : "own";
    entry.failure = {
      kind,
      ...(error instanceof DependencyFailedError ? { dependency: error.dependency } : {}),
    };
    const reason = describeError(error);
    this.log(entry.resource.name, kind === "cancelled" ? reason : `failed to start: ${reason}`);
    this.setState(entry, "FailedToStart", reason);
    entry.healthy.reject(new Error(reason));
  }

  private async stopOne(resource: Resource): Promise<void> {
    const entry = this.entry(resource.name);
    await this.stopInstances(entry, entry.instances.all());
  }

  /** Stops instances of a running resource; stopping every one that is up is stopping the resource. */
  private async stopInstances(entry: Entry, indices: number[]): Promise<void> {
    // A failed start already stopped what it had started, and keeps its reason.
    if (entry.state !== "Running" && entry.state !== "Starting" && entry.state !== "Stopping") return;
    const instances = entry.instances;
    const up = instances.all().filter((i) => instances.areUp([i]));
    if (!up.some((i) => indices.includes(i))) return;
    if (up.every((i) => indices.includes(i))) this.setState(entry, "Stopping");
    await instances.stop(indices);
  }

  /** How a resource's instances report to the runtime; events of a set replaced by a newer start are ignored. */
  private newInstances(resource: Resource): InstanceSet {
    const set: InstanceSet = new InstanceSet(resource, {
      onChange: () => void this.writeState(),
      onDown: (code) => {
        const entry = this.entry(resource.name);
        // While Starting, the start itself reports the failure (exitedDuringStart).
        if (entry.instances === set && (entry.state === "Running" || entry.state === "Stopping"))
          this.markExited(entry, code);
      },
      log: (instance, message) => this.log(instance, message),
    });
    return set;
  }

  private markExited(entry: Entry, code: number | null): void {
    entry.exitCode = code;
    entry.health = "Unknown";
    entry.healthDetail = undefined;
    // Dependents waiting on a start in flight keep their promise: the start's failure settles it.
    if (entry.healthy.settled) entry.healthy = deferred();
    this.setState(entry, "Exited");
    // A resource without a process of its own (a database) goes down with what it runs on.
    for (const dependent of this.order) {
      if (!dependent.dependencies().includes(entry.resource)) continue;
      const detail = dependent.kindModule.dependencyExited?.(dependent, entry.resource);
      const child = this.entry(dependent.name);
      if (detail !== undefined && child.state === "Running") {
        child.health = "Unhealthy";
        child.healthDetail = detail;
        void this.writeState();
      }
    }
  }

  /**
   * Checks the resource's health (every instance's, recorded on each) and says whether the given
   * instances (default: all) are healthy.
   */
  private async refreshHealth(entry: Entry, indices?: number[]): Promise<boolean> {
    if (!entry.instances.launched || entry.state !== "Running") return false;
    const result = await entry.instances
      .checkHealth()
      .catch((e: Error) => ({ healthy: false, detail: e.message }));
    const health: HealthStatus = result.healthy ? "Healthy" : "Unhealthy";
    if (health !== entry.health || result.detail !== entry.healthDetail) {
      entry.health = health;
      entry.healthDetail = result.detail;
      await this.writeState();
    }
    return indices === undefined ? result.healthy : entry.instances.areHealthy(indices);
  }

  /** Re-checks health every few seconds so state.json (and the console) reflect reality. */
  private async watchHealth(): Promise<void> {
    while (!this.abort.signal.aborted) {
      await sleep(2000, this.abort.signal);
      if (this.abort.signal.aborted) break;
      for (const entry of this.entries.values()) {
        const before = entry.health;
        await this.refreshHealth(entry);
        if (before === "Healthy" && entry.health === "Unhealthy") {
          this.log(entry.resource.name, `unhealthy: ${entry.healthDetail ?? "no detail"}`);
        } else if (before === "Unhealthy" && entry.health === "Healthy") {
          this.log(entry.resource.name, "healthy again");
          // Dependents already started are not restarted; a newly started one no longer waits.
          entry.healthy.resolve();
        }
      }
    }
  }

  private providerFor(resource: Resource): ResourceProvider {
    return this.providers.providerFor(resource);
  }

  private setState(entry: Entry, state: ResourceState, reason?: string): void {
    entry.state = state;
    entry.stateReason = reason;
    if (state !== "Running")
      entry.health = state === "Exited" || state === "FailedToStart" ? "Unknown" : entry.health;
    void this.writeState();
  }

  /** Serialised, atomic writes: readers never see a torn file, and updates land in order. */
  private writeState(): Promise<void> {
    for (const listener of this.changeListeners) listener();
    const content = JSON.stringify(
      {
        app: this.model.name,
        mode: this.options.mode ?? "process",
        apphostPid: process.pid,
        apphostIdentity: this.apphostIdentity,
        updatedAt: new Date().toISOString(),
        resources: this.snapshot().map((r) => this.withoutSecrets(r)),
      },
      null,
      2,
    );
    this.stateWrite = this.stateWrite
      .then(() => writeFileAtomic(this.stateFile, `${content}\n`))
      .catch(() => {});
    return this.stateWrite;
  }

  /**
   * A snapshot as state.json stores it: the connection string with its password masked, and no
   * secret in the texts (tools that need credentials read settings.json, mode 0600, or ask the
   * running AppHost).
   */
  private withoutSecrets(r: ResourceSnapshot): ResourceSnapshot {
    const secrets = this.secretValues();
    return {
      ...r,
      ...(r.connectionString ? { connectionString: maskUri(r.connectionString) } : {}),
      ...(r.stateReason ? { stateReason: maskSecrets(r.stateReason, secrets) } : {}),
      ...(r.healthDetail ? { healthDetail: maskSecrets(r.healthDetail, secrets) } : {}),
    };
  }

  private requireSettings(): SettingsStore {
    if (!this.settings) throw new Error("start() has not run");
    return this.settings;
  }

  /**
   * What a name addresses: a resource (all its instances) or one replica (`sender-1`) of a
   * replicated resource.
   */
  private address(name: string): { entry: Entry; indices: number[]; whole: boolean } {
    const own = this.entries.get(name);
    if (own) return { entry: own, indices: own.instances.all(), whole: true };
    for (const entry of this.entries.values()) {
      const index = entry.instances.size > 1 ? entry.instances.indexOf(name) : undefined;
      if (index !== undefined) return { entry, indices: [index], whole: false };
    }
    return { entry: this.entry(name), indices: [], whole: true };
  }

  private entry(name: string): Entry {
    const entry = this.entries.get(name);
    if (!entry) throw new Error(`No resource named "${name}" (have: ${[...this.entries.keys()].join(", ")})`);
    return entry;
  }

  private log(resource: string, message: string): void {
    this.logs.write(resource, "apphost", `[apphost] ${message}`);
  }

  /** Dependents of a resource, for callers that restart a dependency and its consumers. */
  dependents(name: string): string[] {
    return dependentsOf(this.entry(name).resource, this.order).map((r) => r.name);
  }

  describe(name: string): string {
    const r = this.resource(name);
    const parts = [r.name.padEnd(14), r.kind.padEnd(18), `${r.state}/${r.health}`.padEnd(18)];
    const urls = Object.values(r.endpoints);
    if (r.connectionString) urls.push(maskUri(r.connectionString));
    return `${parts.join(" ")} ${urls.join("  ")}`;
  }
}

interface Deferred {
  promise: Promise<void>;
  resolve: () => void;
  reject: (error: Error) => void;
  readonly settled: boolean;
}

function deferred(): Deferred {
  let resolve!: () => void;
  let reject!: (error: Error) => void;
  let settled = false;
  const promise = new Promise<void>((res, rej) => {
    resolve = () => ((settled = true), res());
    reject = (error) => ((settled = true), rej(error));
  });
  // A rejection nobody waits for is not an error of its own: the start failure is reported once.
  promise.catch(() => {});
  return {
    promise,
    resolve,
    reject,
    get settled() {
      return settled;
    },
  };
}
