// Shared with the receiver, whose HTTP host answers 503 for the same failures.
export { isConnectionError as isTransientConnectionError } from "@outbox/service-defaults";
