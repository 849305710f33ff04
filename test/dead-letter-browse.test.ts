import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Connection, Message } from "rhea";
import type { DistributedApplication } from "@outbox/apphost";
import { startTestApp, stopTestApp } from "@outbox/apphost/testing";
import { adminFetch, useAdminTokens } from "./support/admin.js";
import { connectToBroker, entityItemCreatedMessage, eventually, getJson } from "./support/receiver.js";

// Review defect 9: the DLQ browse API promised up to 1000 entries, but Artemis' listMessages
// stops at the management browse page size (200 by default). With 250 dead letters the API must
// list exactly what it documents, and the count must still say 250.
const POISON = 250;

let app: DistributedApplication;
let receiver: string;
let broker: Connection;

/** Sends `messages` over one link and resolves once the broker accepted every one. */
async function sendAll(connection: Connection, address: string, messages: Message[]): Promise<void> {
  const link = connection.open_sender({ target: { address } });
  try {
    await new Promise<void>((resolve, reject) => {
      let next = 0;
      let accepted = 0;
      const timer = setTimeout(
        () => reject(new Error(`only ${accepted} of ${messages.length} accepted`)),
        120_000,
      );
      const pump = (): void => {
        while (next < messages.length && link.sendable()) link.send({ durable: true, ...messages[next++]! });
      };
      link.on("sendable", pump);
      link.on("accepted", () => {
        accepted += 1;
        if (accepted === messages.length) {
          clearTimeout(timer);
          resolve();
        }
      });
      link.on("rejected", () => reject(new Error("the broker rejected a message")));
      pump();
    });
  } finally {
    link.close();
  }
}

beforeAll(async () => {
  app = await startTestApp();
  useAdminTokens(app);
  receiver = app.getEndpoint("receiver");
  broker = await connectToBroker(app);
});

afterAll(async () => {
  broker?.close();
  await stopTestApp(app);
});

describe("dead-letter browse (defect 9)", () => {
  it("lists as many of 250 dead letters as /openapi.json promises, and counts all 250", async () => {
    const poison = Array.from({ length: POISON }, () =>
      entityItemCreatedMessage(
        { id: randomUUID(), name: "x", description: null, createdAt: new Date().toISOString() },
        { body: "{not json" },
      ),
    );
    // Straight to the receiver group's queue: the receiver rejects each (poison) into its DLQ.
    await sendAll(broker, "entity-items.receiver", poison);
    await eventually(`${POISON} dead letters in the receiver's DLQ`, async () => {
      const { body } = await getJson<{ count: number }>(`${receiver}/api/DeadLetters/count`);
      return body.count === POISON ? true : undefined;
    });

    const { body: openapi } = await getJson<{
      paths: Record<
        string,
        { get?: { parameters?: Array<{ name: string; schema?: { maximum?: number } }> } }
      >;
    }>(`${receiver}/openapi.json`);
    const limit = openapi.paths["/api/DeadLetters"]?.get?.parameters?.find((p) => p.name === "limit");
    const documentedMax = limit?.schema?.maximum;
    expect(documentedMax).toBeGreaterThan(0);

    const page = await getJson<{ count: number; items: Array<{ id: number; messageId: string | null }> }>(
      `${receiver}/api/DeadLetters?limit=${String(documentedMax)}`,
    );
    expect(page.status).toBe(200);
    expect(page.body.count).toBe(POISON);
    // Exactly min(promised, present): before the fix this was 200 of a promised 1000.
    expect(page.body.items).toHaveLength(Math.min(documentedMax!, POISON));
    expect(new Set(page.body.items.map((i) => i.id)).size).toBe(page.body.items.length);
    // Oldest first: the first poison message sent is the first listed.
    expect(page.body.items[0]?.messageId).toBe(String(poison[0]!.message_id));

    const tooMany = await adminFetch(`${receiver}/api/DeadLetters?limit=${String(documentedMax! + 1)}`);
    expect(tooMany.status).toBe(400);
  });
});
