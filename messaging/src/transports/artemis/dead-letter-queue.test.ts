import { describe, expect, it } from "vitest";
import { ManagementOperationError, type BrokerManagement } from "./management.js";
import {
  DeadLetterQueue,
  defaultDeadLetterQueue,
  producerMessageId,
  toDeadLetter,
} from "./dead-letter-queue.js";

/** What Artemis 2.56's listMessages returned for a dead-lettered AMQP message (trimmed). */
const listed = {
  _AMQ_AD: "DLQ",
  subject: "EntityItemCreated",
  groupId: "0193a5b2-7c4d-7e8f-9a0b-1c2d3e4f5a6b",
  messageID: 89,
  type: "EntityItemCreated",
  version: 1,
  "x-opt-ORIG-ADDRESS": "entity-items.receiver",
  "x-opt-ORIG-QUEUE": "entity-items.receiver",
  userID: "ID:0193a5b2-7c4d-7e8f-9a0b-aaaaaaaaaaaa",
  _AMQ_DUPL_ID: "0193a5b2-7c4d-7e8f-9a0b-aaaaaaaaaaaa",
};

function management(answers: Record<string, unknown>): BrokerManagement {
  return {
    call: (resource: string, operation: string) => {
      const answer = answers[`${resource} ${operation}`];
      return answer instanceof Error ? Promise.reject(answer) : Promise.resolve(answer);
    },
  } as unknown as BrokerManagement;
}

describe("dead letters", () => {
  it("reads what the broker lists", () => {
    expect(toDeadLetter(listed)).toEqual({
      id: 89,
      messageId: "0193a5b2-7c4d-7e8f-9a0b-aaaaaaaaaaaa",
      type: "EntityItemCreated",
      version: 1,
      groupId: "0193a5b2-7c4d-7e8f-9a0b-1c2d3e4f5a6b",
      correlationId: undefined,
      originalAddress: "entity-items.receiver",
      originalQueue: "entity-items.receiver",
      properties: listed,
    });
    expect(producerMessageId("ID:AMQP_STRING:abc")).toBe("abc");
    expect(producerMessageId(undefined)).toBeUndefined();
  });

  it("reads a delivery receipt's correlation id", () => {
    // What Artemis 2.56 listed for a receipt (correlation_id = the outbox id it acknowledges).
    const receipt = toDeadLetter({
      messageID: 40,
      type: "DeliveryReceipt",
      userID: "ID:receipt:receiver:0193a5b2-7c4d-7e8f-9a0b-aaaaaaaaaaaa",
      correlationId: "0193a5b2-7c4d-7e8f-9a0b-aaaaaaaaaaaa",
      "x-opt-ORIG-QUEUE": "delivery-receipts",
    });
    expect(receipt).toMatchObject({
      id: 40,
      messageId: "receipt:receiver:0193a5b2-7c4d-7e8f-9a0b-aaaaaaaaaaaa",
      correlationId: "0193a5b2-7c4d-7e8f-9a0b-aaaaaaaaaaaa",
      originalQueue: "delivery-receipts",
    });
  });

  it("names a queue's per-address dead-letter queue", () => {
    expect(defaultDeadLetterQueue("entity-items.receiver")).toBe("DLQ.entity-items.receiver");
    expect(defaultDeadLetterQueue("entity-items::receiver")).toBe("DLQ.entity-items");
  });

  it("treats a DLQ the broker has not created yet as empty", async () => {
    const missing = new ManagementOperationError('["AMQ229067: Cannot find resource with name queue.DLQ.x"]');
    const dlq = new DeadLetterQueue(
      management({
        "queue.DLQ.x countMessages": missing,
        "queue.DLQ.x listMessages": missing,
        "queue.DLQ.x retryMessage": missing,
      }),
      "DLQ.x",
    );
    expect(await dlq.count()).toBe(0);
    expect(await dlq.browse(10)).toEqual([]);
    expect(await dlq.replay(1)).toBe(false);
  });

  it("passes other broker errors on and caps browsing", async () => {
    const dlq = new DeadLetterQueue(
      management({
        "queue.DLQ.x countMessages": new ManagementOperationError("AMQ119000: something else"),
        "queue.DLQ.x listMessages": [listed, { ...listed, messageID: 90 }, { ...listed, messageID: 91 }],
      }),
      "DLQ.x",
    );
    await expect(dlq.count()).rejects.toThrow("something else");
    expect((await dlq.browse(2)).map((l) => l.id)).toEqual([89, 90]);
  });
});
