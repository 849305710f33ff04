import { containerKind } from "../kinds/container.js";
import { imageReference } from "./image.js";
import { ParameterResource } from "./parameter.js";
import { Resource, envPrefix, type ReferenceTarget } from "./resource.js";

export interface ContainerEndpoint {
  /** Endpoint name, used in `services__<resource>__<name>__0` (default: the scheme). */
  name: string;
  /** The port inside the container. */
  targetPort: number;
  /** URL scheme of the endpoint: http, https, tcp, amqp… */
  scheme: string;
}

export type Readiness =
  | { kind: "log"; pattern: string | RegExp; times: number }
  | { kind: "port" }
  | { kind: "http"; path: string; endpoint: string };

const NAME = /^[a-z][a-z0-9-]{0,62}$/;

/**
 * Any container image as a resource (Aspire's AddContainer): environment, endpoints published on
 * 127.0.0.1, named volumes kept across runs, bind mounts, arguments and a readiness check. Services
 * reference it (`services__<name>__<endpoint>__0`) and wait for it like any other resource.
 */
export class ContainerResource extends Resource implements ReferenceTarget {
  readonly environment = new Map<string, string>();
  /** Parameters the container gets as `Parameters__<name>` (`withReference(parameter)`). */
  readonly references: ParameterResource[] = [];
  readonly endpoints: ContainerEndpoint[] = [];
  readonly volumes: Array<{ name: string; target: string }> = [];
  readonly bindMounts: Array<{ source: string; target: string; readOnly: boolean }> = [];
  args: string[] | undefined;
  readiness: Readiness | undefined;
  image: string;
  /** How many containers run this resource (`withReplicas`). */
  replicas = 1;

  constructor(name: string, image: string, kind = containerKind) {
    super(name, kind);
    this.image = imageReference(image);
  }

  get connectionName(): string {
    return this.name;
  }

  /** The image the engine pulls for this resource (none for an image built at start). */
  pulledImage(): string | undefined {
    return this.image;
  }

  /** Replaces the image (`APPHOST_IMAGE_<NAME>` still wins). */
  withImage(image: string, tag?: string): this {
    this.image = imageReference(image, tag);
    return this;
  }

  withEnvironment(name: string, value: string | number | boolean): this {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name))
      throw new Error(`Invalid environment variable name "${name}"`);
    this.environment.set(name, String(value));
    return this;
  }

  /**
   * A parameter's value as `Parameters__<name>`. Nothing else: every endpoint the AppHost hands out
   * (host processes, the ports it publishes for containers) is on the host's 127.0.0.1, which a
   * container cannot reach, so a URL injected into a container would never connect.
   */
  withReference(target: ReferenceTarget): this {
    if (!(target instanceof ParameterResource))
      throw new Error(
        `Container "${this.name}" cannot reference "${target.name}": the AppHost binds every endpoint to ` +
          `127.0.0.1 of the host, which a container cannot reach. Reference "${this.name}" from a node ` +
          `app or executable instead, or pass a parameter (withReference(parameter)) or withEnvironment value`,
      );
    this.references.push(target);
    this.waitsFor.add(target);
    return this;
  }

  /** Publishes `targetPort` on 127.0.0.1 (a free host port, kept across runs). */
  withEndpoint(targetPort: number, scheme = "tcp", name: string = scheme): this {
    if (!Number.isInteger(targetPort) || targetPort < 1 || targetPort > 65535)
      throw new Error(`Invalid target port ${targetPort} on "${this.name}"`);
    if (!/^[a-z][a-z0-9+.-]*$/.test(scheme)) throw new Error(`Invalid scheme "${scheme}" on "${this.name}"`);
    if (!NAME.test(name)) throw new Error(`Invalid endpoint name "${name}" on "${this.name}"`);
    if (this.endpoints.some((e) => e.name === name))
      throw new Error(`Endpoint "${name}" is declared twice on "${this.name}"`);
    this.endpoints.push({ name, targetPort, scheme });
    return this;
  }

  withHttpEndpoint(targetPort: number, name = "http"): this {
    return this.withEndpoint(targetPort, "http", name);
  }

  /** A named volume (per resource and state directory) mounted at `target`; kept across runs, removed by --fresh. */
  withVolume(name: string, target: string): this {
    if (!NAME.test(name)) throw new Error(`Invalid volume name "${name}" on "${this.name}"`);
    assertContainerPath(target);
    this.volumes.push({ name, target });
    return this;
  }

  /** A host directory or file (relative to the repository root, or absolute) mounted at `target`. */
  withBindMount(source: string, target: string, options: { readOnly?: boolean } = {}): this {
    assertContainerPath(target);
    this.bindMounts.push({ source, target, readOnly: options.readOnly ?? false });
    return this;
  }

  /** Arguments for the image's entry point (the container's command). */
  withArgs(...args: string[]): this {
    this.args = [...(this.args ?? []), ...args];
    return this;
  }

  /** Ready once the output has shown a line matching `pattern` (`times` times). */
  withLogReadiness(pattern: string | RegExp, times = 1): this {
    this.readiness = { kind: "log", pattern, times };
    return this;
  }

  /** Ready once every endpoint's port accepts connections. */
  withPortReadiness(): this {
    this.readiness = { kind: "port" };
    return this;
  }

  /** Ready (and healthy) while `path` answers 2xx on an HTTP endpoint. */
  withHttpHealthCheck(path: string, endpoint = "http"): this {
    if (!path.startsWith("/")) throw new Error(`Health check path must start with '/': "${path}"`);
    this.readiness = { kind: "http", path, endpoint };
    return this;
  }

  /**
   * Runs `count` containers of this resource, named `<name>-0`, `<name>-1`, …: each has its own
   * host port(s) and its own named volumes, and is stopped, killed and started on its own.
   */
  withReplicas(count: number): this {
    if (!Number.isInteger(count) || count < 1 || count > 64)
      throw new Error(`Replica count of "${this.name}" must be an integer from 1 to 64 (got ${count})`);
    this.replicas = count;
    return this;
  }

  /** The names of this resource's replicas: `<name>-<index>`. */
  replicaNames(): string[] {
    return Array.from({ length: this.replicas }, (_, i) => `${this.name}-${i}`);
  }

  /** Do not start until `dependency` is Running and Healthy. */
  waitFor(dependency: Resource): this {
    this.waitsFor.add(dependency);
    return this;
  }

  /** The per-resource image variable, e.g. APPHOST_IMAGE_JAEGER. */
  get imageVariable(): string {
    return `APPHOST_IMAGE_${envPrefix(this.name)}`;
  }
}

function assertContainerPath(target: string): void {
  if (!target.startsWith("/")) throw new Error(`Container path must be absolute: "${target}"`);
}
