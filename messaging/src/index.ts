// The public API of @outbox/messaging: nothing else is importable (package.json `exports`).
export {
  DUPLICATE_ID_PROPERTY,
  MAX_BODY_BYTES,
  messageGroup,
  readEnvelope,
  readMessageId,
  readTraceHeaders,
  toAmqpEnvelope,
  type IncomingEnvelope,
  type OutgoingEnvelope,
  type ReadEnvelopeResult,
  type TraceHeaders,
} from "./contracts/envelope.js";
export {
  buildReceiptBody,
  MAX_RECEIPTS_PER_MESSAGE,
  parseReceiptMessage,
  RECEIPT_IDS_PER_PROPERTY,
  RECEIPT_IDS_PROPERTY_PREFIX,
  RECEIPT_VERSION,
  receiptId,
  receiptIdProperties,
  receiptIdsFromProperties,
  toReceiptAmqpMessage,
  type AppliedReceiptEntry,
  type Receipt,
  type ReceiptBatchBody,
  type ReceiptMessage,
} from "./contracts/receipt.js";
export {
  BatchConsumer,
  type BatchConsumerOptions,
  type BatchConsumerState,
  type BatchContext,
  type BatchDelivery,
  type BatchHandler,
  type Decoded,
  type Settlement,
} from "./inbox/batch-consumer.js";
export {
  defineMessageTypes,
  HandlerRegistry,
  messageKey,
  MessageTypes,
  messageVersion,
  type DecodeResult,
  type MessageChecks,
  type MessageHandlers,
  type MessageOf,
  type MessageOfTypes,
  type MessageVersion,
  type MessageVersions,
  type PayloadOf,
  type TypedMessage,
} from "./inbox/handler-registry.js";
export { startConsumerSpan } from "./telemetry/consumer-span.js";
export {
  deadLetterRoutes,
  type DeadLetterOperation,
  type DeadLetterRoutesOptions,
  type DeadLetterSource,
  type DeadLetterTarget,
} from "./admin/dead-letter-routes.js";
export { deadLetterRouter } from "./admin/dead-letter-router.js";
export { expressRouter } from "./admin/express-router.js";
export { MAX_BROWSE, type DeadLetter, type DeadLetterOperations } from "./admin/dead-letter.js";
export {
  brokerUnavailableResponse,
  deadLetterIdParams,
  deadLetterLimitParameter,
  expectDeadLetter,
  unavailableWhenBrokerIsDown,
} from "./admin/dead-letter-http.js";
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
} from "./http/problem.js";
export { integerParameter, type IntegerParameterOptions } from "./http/integer-parameter.js";
export type { HttpMethod, RouteInput, RouteResponse, RouteSpec } from "./http/route-spec.js";
export type { LogFn, Logger } from "./logger.js";
export type { HealthCheck, HealthCheckResult, HealthStatus } from "./health.js";
export { BrokerUnavailableError } from "./transport/broker-unavailable.js";
export type {
  ConsumerOptions,
  ConsumerState,
  ContractName,
  Contracts,
  DeadLetterEntry,
  DeadLetterStore,
  InboundMessage,
  PublishOutcome,
  PublisherOptions,
  PublisherState,
  ReceiptPublisher,
  TopologyDeclaration,
  Transport,
  TransportConsumer,
  TransportPublisher,
} from "./transport/transport.js";
// The Artemis (AMQP 1.0) transport and the broker pieces the services still use directly.
export {
  artemisTransport,
  ArtemisTransport,
  type ArtemisTransportOptions,
} from "./transports/artemis/index.js";
export {
  AmqpConnection,
  parseAmqpUrl,
  type AmqpConnectionOptions,
  type AmqpEndpoint,
} from "./transports/artemis/connection.js";
export {
  AmqpPublisher,
  type AmqpPublisherOptions,
  type PublisherConnection,
} from "./transports/artemis/publisher.js";
export { BrokerManagement, ManagementOperationError } from "./transports/artemis/management.js";
export {
  DeadLetterQueue,
  defaultDeadLetterQueue,
  producerMessageId,
  toDeadLetter,
} from "./transports/artemis/dead-letter-queue.js";
export {
  artemisAddresses,
  groupDeadLetterQueue,
  groupQueue,
  type ArtemisAddress,
} from "./transports/artemis/topology.js";
export { redactUrl } from "./redact-url.js";
// The outbox: createOutbox (tables, migrations, enqueue, relay) and the library's migration runner.
export { createOutbox, type Outbox, type OutboxConfig, type OutboxNames } from "./outbox/create-outbox.js";
export {
  UnorderedOptionsError,
  type DrizzleTransaction,
  type EnqueueOptions,
  type EnqueueTransaction,
  type OutboxMessage,
  type PgTransactionClient,
} from "./outbox/enqueue.js";
export {
  RELAY_DEFAULTS,
  type OutboxRelayHandle,
  type RelayRetentionOptions,
  type RelayState,
  type StartRelayOptions,
} from "./outbox/start-relay.js";
export type { BackoffPolicy } from "./outbox/backoff.js";
export type { PurgeOptions, PurgeResult } from "./outbox/retention.js";
export type { SqlDb, TransactionalSqlDb } from "./outbox/sql-db.js";
export {
  outboxAttemptOutcomes,
  outboxStatuses,
  outboxTables,
  type NewOutboxMessage,
  type OutboxAttemptOutcome,
  type OutboxAttemptRow,
  type OutboxHeaders,
  type OutboxMessageRow,
  type OutboxStatus,
  type OutboxTables,
} from "./outbox/tables.js";
export {
  applyMigrations,
  migrationStatus,
  migrationsRoot,
  renderMigrations,
  type ApplyResult,
  type MigrationStatus,
  type MigrationTarget,
  type RenderedMigration,
} from "./schema/migrator.js";
export { validateSchemaNames, type SchemaNames } from "./schema/identifiers.js";
// The idempotent inbox: createInbox (tables, migrations, consumers, retention).
export {
  createInbox,
  type Inbox,
  type InboxConsumerOptions,
  type InboxOptions,
  type RunningInboxConsumer,
} from "./inbox/create-inbox.js";
export { InboxConsumer, type InboxConsumerSettings, type InboxCounters } from "./inbox/inbox-consumer.js";
export type { InboxTableNames, InboxTables } from "./inbox/inbox-tables.js";
export type { InboxPurgeOptions, InboxPurgeResult } from "./inbox/inbox-retention.js";
export { InboxRetentionJob, type InboxRetentionOptions } from "./inbox/inbox-retention-job.js";
export type {
  InboxHandlerResult,
  InboxOutcome,
  InboxResult,
  InboxTransaction,
  SelfDeduplicatingHandler,
} from "./inbox/process-inbox-batch.js";
export { RetryLaterError } from "./inbox/retry-later.js";
export { classifyError, describeError, sqlState, type FailureKind } from "./inbox/classify-error.js";
export { startProcessSpan } from "./telemetry/consumer-span.js";
export { startReceiptSendSpan } from "./inbox/receipt-span.js";
export { isTransientConnectionError } from "./postgres/transient-error.js";
// The outbox admin routes: as route specs for a ServiceHost, or as an Express router; and paging.
export {
  outboxAdminRoutes,
  type DatabaseUnavailable,
  type OutboxAdminRoutesOptions,
} from "./admin/outbox-admin-routes.js";
export { outboxAdminRouter } from "./admin/outbox-admin-router.js";
export type {
  BlockedAggregateView,
  DeleteOutcome,
  OutboxAttemptView,
  OutboxMessageView,
  OutboxStats,
} from "./admin/outbox-admin-queries.js";
export {
  MAX_PAGE,
  MAX_PAGE_SIZE,
  pageQuerySchema,
  pageResponseSchema,
  pageToOffset,
  type PageQuery,
} from "./http/paging.js";
export {
  markAllDelivered,
  type ReceiptConsumerState,
  type RunningReceiptConsumer,
  type StartReceiptConsumerOptions,
} from "./outbox/receipt-consumer.js";
// The Kafka transport (@platformatic/kafka): the same seam as Artemis, and its topic names.
export {
  kafkaTransport,
  KafkaTransport,
  kafkaGroupId,
  kafkaGroupTopics,
  toKafkaRecord,
  type KafkaTransportOptions,
} from "./transports/kafka/index.js";
