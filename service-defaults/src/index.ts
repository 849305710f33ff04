export {
  ConfigError,
  amqpUrlFromEnv,
  baseEnvSchema,
  connectionStringFromEnv,
  envPrefix,
  loadConfig,
  logLevels,
  migrationsUrlFromEnv,
  postgresUrlFromEnv,
  readAllConfig,
} from "./config.js";
export { createLogger, redactUrl, type Logger } from "./logging.js";
export {
  SchemaNotMigratedError,
  assertSchemaMigrated,
  latestShippedMigration,
  prepareSchemaAtStart,
  type JournalReader,
  type SchemaAtStartOptions,
} from "./schema-readiness.js";
export {
  HttpProblem,
  PROBLEM_CONTENT_TYPE,
  problemBody,
  problemResponseSchema,
  sendProblem,
  validationErrorSchema,
  validationErrors,
  type ProblemBody,
  type ValidationError,
} from "@outbox/messaging";
export {
  aliveSchema,
  healthReportSchema,
  runHealthChecks,
  type HealthCheck,
  type HealthCheckResult,
  type HealthEntry,
  type HealthReport,
  type HealthStatus,
} from "./health.js";
export {
  ADMIN_SECURITY_SCHEME,
  adminTokensFromEnv,
  bearerToken,
  hostAllowed,
  tokenMatches,
  type AdminAuthOptions,
} from "./admin-auth.js";
export {
  ServiceHost,
  toOpenApiPath,
  type HttpMethod,
  type RouteInput,
  type RouteResponse,
  type RouteSpec,
  type ServiceHostOptions,
} from "./host.js";
export {
  shutdownTelemetry,
  startTelemetry,
  type TelemetryHandle,
  type TelemetryOptions,
} from "./telemetry.js";
export {
  MAX_PAGE,
  MAX_PAGE_SIZE,
  pageQuerySchema,
  pageResponseSchema,
  pageToOffset,
  type PageQuery,
} from "./paging.js";
export { integerParameter, type IntegerParameterOptions } from "@outbox/messaging";
export {
  NON_BLANK_TEXT_PATTERN,
  STORABLE_TEXT_PATTERN,
  textField,
  type TextFieldOptions,
} from "./text-fields.js";
export {
  ENTITY_ITEM_DESCRIPTION,
  ENTITY_ITEM_NAME,
  UNCARRIABLE_TEXT_MESSAGE,
  carriedTextSchema,
  describeTextLimit,
  isCarriableText,
  limitedTextField,
  type TextLimit,
} from "./text-limits.js";
export {
  databaseUnavailableProblem,
  databaseUnavailableResponse,
  isPoolBusyError,
  isTransientConnectionError,
  rethrowAsUnavailable,
  retryWhileUnreachable,
} from "./postgres-availability.js";
export {
  configMarkers,
  describeConfig,
  readMarkedBlock,
  renderConfigTable,
  replaceMarkedBlock,
  type ConfigTableOptions,
  type ConfigVariable,
} from "./config-table.js";
export {
  brokerAddressFromEnv,
  brokerConnectionString,
  kafkaBrokersFromConnectionString,
  messagingTransports,
  retryDelaysSchema,
  transportEnvSchema,
  type BrokerAddress,
  type MessagingTransportName,
} from "./transport-config.js";
export {
  numericDeadLetterId,
  partitionOffsetDeadLetters,
  partitionOffsetId,
} from "./dead-letter-operations.js";
