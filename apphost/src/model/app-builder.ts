import { assertContributionFits, type DashboardContribution } from "../dashboard/contribution.js";
import { ArtemisResource } from "./artemis.js";
import { ContainerResource } from "./container.js";
import { DockerfileResource, type DockerfileOptions } from "./dockerfile.js";
import { ExecutableResource } from "./executable.js";
import { JaegerResource } from "./jaeger.js";
import { KafkaResource, type KafkaOptions } from "./kafka.js";
import { NodeAppResource, NpmScriptResource, type NodeAppOptions } from "./node-app.js";
import { NodeServiceResource } from "./node-service.js";
import { ParameterResource, type ParameterOptions } from "./parameter.js";
import { PostgresServerResource } from "./postgres.js";
import type { Resource } from "./resource.js";

export interface AppBuilderOptions {
  /** Shown in the console and the state file. */
  name?: string;
}

/** The application model: what runs and how it is wired, nothing about how it is started. */
export class AppBuilder {
  readonly name: string;
  private readonly byName = new Map<string, Resource>();
  private readonly contributions: DashboardContribution[] = [];

  constructor(options: AppBuilderOptions = {}) {
    this.name = options.name ?? "app";
  }

  addPostgres(name: string): PostgresServerResource {
    return this.register(new PostgresServerResource(name, (database) => this.register(database)));
  }

  addArtemis(name: string): ArtemisResource {
    return this.register(new ArtemisResource(name));
  }

  /** One Apache Kafka node (KRaft) and the topics created on it at start (`options.topics`, `withTopic`). */
  addKafka(name: string, options?: KafkaOptions): KafkaResource {
    return this.register(new KafkaResource(name, options));
  }

  addNodeService(name: string, directory: string): NodeServiceResource {
    return this.register(new NodeServiceResource(name, directory));
  }

  /**
   * A plain Node app run with `node`: its package.json start script's file (`node <file>`) or
   * `options.entry`; no loader, no service defaults unless `withServiceDefaults()`.
   */
  addNodeApp(name: string, directory: string, options?: NodeAppOptions): NodeAppResource {
    return this.register(new NodeAppResource(name, directory, options));
  }

  /** `npm run <script>` in a folder, as a Node app resource (its whole process group is stopped). */
  addNpmScript(name: string, directory: string, script: string): NpmScriptResource {
    return this.register(new NpmScriptResource(name, directory, script));
  }

  /** Any image as a resource (container mode). */
  addContainer(name: string, image: string): ContainerResource {
    return this.register(new ContainerResource(name, image));
  }

  /**
   * A container whose image the engine builds from `contextDir` (relative to the project root),
   * container mode only. Rebuilt only when the context, Dockerfile or build arguments change.
   */
  addDockerfile(name: string, contextDir: string, options?: DockerfileOptions): DockerfileResource {
    return this.register(new DockerfileResource(name, contextDir, options));
  }

  /** Any program on the host, run like a service. */
  addExecutable(name: string, command: string, args: string[] = []): ExecutableResource {
    return this.register(new ExecutableResource(name, command, args));
  }

  /** Jaeger (container mode): the AppHost copies the traces it receives to it. */
  addJaeger(name = "jaeger"): JaegerResource {
    return this.register(new JaegerResource(name));
  }

  /** A value from outside the model (see ParameterResource for where it comes from). */
  addParameter(name: string, options?: ParameterOptions): ParameterResource {
    return this.register(new ParameterResource(name, options));
  }

  /**
   * A resource of a kind this package does not declare (its class passes its own kind module to
   * `Resource`, see kinds/resource-kind.ts). Returns it, for chaining its own builder methods.
   */
  addResource<T extends Resource>(resource: T): T {
    return this.register(resource);
  }

  /**
   * Adds pages, API routes and MCP tools to the dashboard (e.g. `outboxMessaging(...)` from
   * `@outbox/apphost/outbox`); a model without contributions shows only the generic views.
   */
  addDashboardContribution(contribution: DashboardContribution): this {
    assertContributionFits(this.contributions, contribution);
    this.contributions.push(contribution);
    return this;
  }

  dashboardContributions(): readonly DashboardContribution[] {
    return [...this.contributions];
  }

  resources(): Resource[] {
    return [...this.byName.values()];
  }

  resource(name: string): Resource {
    const found = this.byName.get(name);
    if (!found) throw new Error(`No resource named "${name}" (have: ${[...this.byName.keys()].join(", ")})`);
    return found;
  }

  private register<T extends Resource>(resource: T): T {
    if (this.byName.has(resource.name)) throw new Error(`Resource "${resource.name}" is declared twice`);
    this.byName.set(resource.name, resource);
    return resource;
  }
}

export function createApp(options?: AppBuilderOptions): AppBuilder {
  return new AppBuilder(options);
}
