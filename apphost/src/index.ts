export { AppBuilder, createApp, type AppBuilderOptions } from "./model/app-builder.js";
export { ArtemisResource, subscriptionQueueName, type ConsumerGroupSpec } from "./model/artemis.js";
export { ContainerResource, type ContainerEndpoint, type Readiness } from "./model/container.js";
export { DockerfileResource, type DockerfileOptions } from "./model/dockerfile.js";
export { ExecutableResource } from "./model/executable.js";
export { JaegerResource } from "./model/jaeger.js";
export { KafkaResource, type KafkaOptions, type KafkaTopicOptions } from "./model/kafka.js";
export type { KafkaCleanupPolicy, KafkaGroupDeclaration, KafkaTopicSpec } from "./kafka/topics.js";
export {
  NodeAppResource,
  NpmScriptResource,
  parseStartScript,
  replicaName,
  type HttpEndpointOptions,
  type DatabaseRole,
  type NodeAppOptions,
  type ReferenceOptions,
} from "./model/node-app.js";
export { NodeServiceResource } from "./model/node-service.js";
export { applyReplicaOverrides, parseReplicaOverrides } from "./model/replica-overrides.js";
export type { ReplicaSnapshot } from "./runtime/replica-set.js";
export { PostgresDatabaseResource, PostgresServerResource } from "./model/postgres.js";
export {
  Resource,
  envPrefix,
  type BuiltInResourceKind,
  type HealthStatus,
  type ReferenceTarget,
  type ResourceKind,
  type ResourceState,
} from "./model/resource.js";
export {
  defineResourceKind,
  lazyProvider,
  type KindImage,
  type KindProviderContext,
  type KindSnapshotFields,
  type ResourceKindModule,
} from "./kinds/resource-kind.js";
export { artemisKind } from "./kinds/artemis.js";
export { containerKind } from "./kinds/container.js";
export { executableKind } from "./kinds/executable.js";
export { jaegerKind } from "./kinds/jaeger.js";
export { kafkaKind } from "./kinds/kafka.js";
export { nodeAppKind } from "./kinds/node-app.js";
export { nodeServiceKind } from "./kinds/node-service.js";
export { parameterKind } from "./kinds/parameter.js";
export { postgresDatabaseKind, postgresServerKind } from "./kinds/postgres.js";
export type {
  ResourceProvider,
  RunningContainer,
  StartContext,
  StartedResource,
} from "./runtime/provider.js";
export type { ConnectionInfo } from "./runtime/environment.js";
export type { ExitInfo } from "./runtime/managed-process.js";
export type { LogSink } from "./runtime/log-sink.js";
export type { SettingsStore } from "./runtime/settings-store.js";
export type { Owner } from "./providers/container/docker-objects.js";
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
export {
  ContributionError,
  type ActiveContribution,
  type ContributedPage,
  type ContributedRequest,
  type ContributedResponse,
  type ContributedRoute,
  type ContributedTool,
  type ContributionContext,
  type DashboardContribution,
} from "./dashboard/contribution.js";
export type { CommandContext, CommandHandler } from "./model/commands.js";
