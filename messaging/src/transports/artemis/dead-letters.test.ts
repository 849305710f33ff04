import { describe, expect, it } from "vitest";
import { DeadLetterQueue } from "./dead-letter-queue.js";
import { ArtemisDeadLetters } from "./dead-letters.js";
import type { BrokerManagement } from "./management.js";

/** A management stand-in that records the calls and answers from a table. */
function management(answers: Record<string, unknown>): { management: BrokerManagement; calls: string[] } {
  const calls: string[] = [];
  const stub = {
    call: (resource: string, operation: string, args: unknown[] = []) => {
      calls.push(`${resource} ${operation} ${JSON.stringify(args)}`);
      return Promise.resolve(answers[`${resource} ${operation}`]);
    },
  } as unknown as BrokerManagement;
  return { management: stub, calls };
}

const origin = { source: "notes", group: "projector", queue: "notes.projector" };

function store(answers: Record<string, unknown>): { store: ArtemisDeadLetters; calls: string[] } {
  const { management: m, calls } = management(answers);
  return { store: new ArtemisDeadLetters(new DeadLetterQueue(m, "DLQ.notes.projector"), origin), calls };
}

describe("ArtemisDeadLetters", () => {
  it("lists entries with string ids and the group they came from", async () => {
    const { store: dlq } = store({
      "queue.DLQ.notes.projector listMessages": [
        {
          messageID: 42,
          userID: "ID:AMQP_STRING:m-1",
          subject: "NoteCreated",
          version: 1,
          groupId: "note-1",
          "x-opt-ORIG-QUEUE": "notes.projector",
          "x-opt-ORIG-ADDRESS": "notes.projector",
        },
        { messageID: 43, userID: "ID:m-2", "x-opt-ORIG-QUEUE": "elsewhere", "x-opt-ORIG-ADDRESS": "other" },
      ],
    });
    const [first, second] = await dlq.browse(10);
    expect(first).toMatchObject({
      id: "42",
      messageId: "m-1",
      type: "NoteCreated",
      version: 1,
      key: "note-1",
      origin: { destination: "notes", group: "projector" },
      reason: undefined,
    });
    expect(second).toMatchObject({
      id: "43",
      origin: { destination: "other", group: undefined },
      reason: undefined,
    });
  });

  it("passes ids to the broker as numbers and answers false for an id the broker cannot have", async () => {
    const { store: dlq, calls } = store({
      "queue.DLQ.notes.projector retryMessage": true,
      "queue.DLQ.notes.projector removeMessage": true,
    });
    expect(await dlq.replay("42")).toBe(true);
    expect(await dlq.remove("7")).toBe(true);
    for (const id of ["", "x", "-1", "1.5", "99999999999999999"]) {
      expect(await dlq.replay(id)).toBe(false);
      expect(await dlq.remove(id)).toBe(false);
    }
    expect(calls).toEqual([
      "queue.DLQ.notes.projector retryMessage [42]",
      "queue.DLQ.notes.projector removeMessage [7]",
    ]);
  });

  it("refuses a browse limit that is not a positive integer", async () => {
    const { store: dlq } = store({});
    await expect(dlq.browse(0)).rejects.toThrow(/limit/);
    await expect(dlq.browse(1.5)).rejects.toThrow(/limit/);
  });
});
