import type { DownloadProgress } from "../artemis/distribution.js";
import type { Resource } from "../model/resource.js";
import type { ConnectionInfo } from "./environment.js";
import type { LogSink } from "./log-sink.js";
import type { ExitInfo } from "./managed-process.js";
import type { SettingsStore } from "./settings-store.js";

/** What a provider needs from the runtime to start a resource. */
export interface StartContext {
  rootDir: string;
  /** `.apphost/data/<resource>`: survives restarts, wiped by --fresh. */
  dataDir: string;
  settings: SettingsStore;
  logs: LogSink;
  /** Message from the AppHost about this resource (goes to its log and the console). */
  log: (message: string) => void;
  /** Running info of the resources this one depends on or references. */
  lookup: (name: string) => StartedResource;
  /** Environment the AppHost injects into services (telemetry, discovery). */
  extraEnvironment: Record<string, string>;
  signal: AbortSignal;
  /** Set when this start is one replica of a service (see runtime/replica-set.ts). */
  replica?: { name: string; index: number };
  /** Progress of a long download (the CLI draws a bar); details go to `log`. */
  progress?: (event: DownloadProgress) => void;
}

/** A resource that a provider has started. */
export interface StartedResource {
  readonly pid: number | undefined;
  readonly endpoints: Record<string, string>;
  /** Infrastructure only: how services reach it. */
  readonly connection: ConnectionInfo | undefined;
  /** Resolves when the process ends (never, for resources without a process of their own). */
  readonly exited: Promise<ExitInfo>;
  /** Container resources: the running container (shown in state.json and the dashboard). */
  readonly container?: RunningContainer;
  /** Parameters only: the resolved value. */
  readonly value?: string;
  /** Services only: the variables the AppHost injected (shown, masked, by the dashboard). */
  readonly environment?: Record<string, string>;
  checkHealth(): Promise<{ healthy: boolean; detail?: string }>;
  stop(): Promise<void>;
  kill(): Promise<void>;
}

export interface RunningContainer {
  id: string;
  image: string;
}

export interface ResourceProvider<R extends Resource = Resource> {
  start(resource: R, context: StartContext): Promise<StartedResource>;
}

/** How one mode runs each kind of resource, plus what it does around a whole run. */
export interface ProviderSet {
  readonly mode: "process" | "container";
  providerFor(resource: Resource): ResourceProvider;
  /** Before any resource starts: remove what a killed AppHost left behind; with `fresh`, the data too. */
  prepare(options: { fresh: boolean; log: (message: string) => void }): Promise<void>;
  /** After every resource stopped: remove anything of this run that is still there. */
  dispose(log: (message: string) => void): Promise<void>;
}
