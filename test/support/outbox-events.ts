import { v7 as uuidv7 } from "uuid";
import type { OutboxMessage } from "@outbox/messaging";

/**
 * An EntityItemCreated outbox row as the sender's POST writes it, for tests and the bench that
 * commit events directly (several in one transaction, or follow-ups on an existing aggregate).
 */
export function entityCreatedRow(
  aggregateId: string,
  name: string,
  options: { destination?: string; description?: string | null } = {},
): OutboxMessage {
  return {
    id: uuidv7(),
    aggregateType: "EntityItem",
    key: aggregateId,
    type: "EntityItemCreated",
    version: 1,
    destination: options.destination ?? "entity-items",
    payload: {
      id: aggregateId,
      name,
      description: options.description ?? null,
      createdAt: new Date().toISOString(),
    },
  };
}
