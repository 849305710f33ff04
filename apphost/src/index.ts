export { AppBuilder, createApp, type AppBuilderOptions } from "./model/app-builder.js";
export { ArtemisResource, subscriptionQueueName, type ConsumerGroupSpec } from "./model/artemis.js";
export { ContainerResource, type ContainerEndpoint, type Readiness } from "./model/container.js";
export { DockerfileResource, type DockerfileOptions } from "./model/dockerfile.js";
export { ExecutableResource } from "./model/executable.js";
export { JaegerResource } from "./model/jaeger.js";
export {
  NodeAppResource,
  NpmScriptResource,
  parseStartScript,
  replicaName,
  type HttpEndpointOptions,
  type NodeAppOptions,
} from "./model/node-app.js";
export { NodeServiceResource } from "./model/node-service.js";
export { applyReplicaOverrides, parseReplicaOverrides } from "./model/replica-overrides.js";
export type { ReplicaSnapshot } from "./runtime/replica-set.js";
export { PostgresDatabaseResource, PostgresServerResource } from "./model/postgres.js";
export { Resource, type HealthStatus, type ResourceKind, type ResourceState } from "./model/resource.js";
export type { AddressSettings, AddressSpec, ArtemisTopology, QueueSpec } from "./artemis/topology.js";
export {
  DistributedApplication,
  type ResourceSnapshot,
  type RunOptions,
} from "./runtime/distributed-application.js";
export { ApplicationStartError, type StartFailure } from "./runtime/start-errors.js";
export { resolveMode, ModeError, type ProviderMode } from "./providers/mode.js";
export {
  DashboardServer,
  DEFAULT_DASHBOARD_PORT,
  type DashboardOptions,
} from "./dashboard/dashboard-server.js";
export { generateSecrets, type DashboardSecrets } from "./dashboard/auth.js";
