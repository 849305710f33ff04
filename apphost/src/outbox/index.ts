// `@outbox/apphost/outbox`: what a model of outbox services (the @outbox/messaging library's
// sender and receiver APIs) adds to the generic AppHost — the dashboard's Messaging and Journey
// pages, the replay actions and the message_journey MCP tool, and the services' admin commands.
export {
  outboxMessaging,
  type OutboxMessagingOptions,
} from "../dashboard/contributions/outbox-messaging/index.js";
export { purgePublishedOutboxRows, replayDeadLetters, replayReceiptDeadLetters } from "./admin-commands.js";
