import { randomUUID } from "node:crypto";
import rhea from "rhea";
import type { Connection, Message } from "rhea";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DistributedApplication } from "@outbox/apphost";
import { startTestApp, stopTestApp } from "@outbox/apphost/testing";
import { SeededRandom } from "./soak/random.js";
import { useAdminTokens } from "./support/admin.js";
import { connectToBroker, deadLetters, eventually, getJson, sendAndConfirm } from "./support/receiver.js";
import { postEntities, waitForApplied } from "./support/system.js";

// AMQP fuzzing: random bodies, content types, application properties and annotations injected
// straight into the receiver's queue. Each must be dead-lettered with a recorded reason, the
// receiver must stay up, and real messages sent in between must keep flowing.
const seed = Number(process.env.FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
const COUNT = 60;

let app: DistributedApplication;
let broker: Connection;

beforeAll(async () => {
  app = await startTestApp();
  // The dead-letter API is an admin route: getJson carries the receiver's admin token.
  useAdminTokens(app);
  broker = await connectToBroker(app);
});

afterAll(async () => {
  broker?.close();
  await stopTestApp(app);
});

const dataSection = (content: Buffer): unknown => rhea.message.data_section(content) as unknown;

function randomText(random: SeededRandom, max: number): string {
  const alphabet = [
    "{",
    "}",
    '"',
    ":",
    ",",
    "[",
    "]",
    "a",
    "1",
    "\u0000",
    "é",
    "\ud83d\ude00",
    " ",
    "null",
    "\\",
  ];
  return Array.from({ length: random.int(0, max) }, () => random.pick(alphabet)).join("");
}

function randomValue(random: SeededRandom): unknown {
  switch (random.int(0, 6)) {
    case 0:
      return randomText(random, 20);
    case 1:
      return random.int(-1_000_000, 1_000_000);
    case 2:
      return random.next() < 0.5;
    case 3:
      return null;
    case 4:
      return Buffer.from(randomText(random, 10));
    case 5:
      return rhea.types.wrap_long(random.int(0, 2 ** 40));
    default:
      return { nested: randomText(random, 5) };
  }
}

/** A message the receiver cannot apply: every one of them has a message id (so it can be traced). */
function fuzzMessage(random: SeededRandom, messageId: string): Message {
  const validTypes = ["EntityItemCreated", "EntityItemUpdated"];
  const properties: Record<string, unknown> = {};
  for (let i = random.int(0, 4); i > 0; i--)
    properties[random.pick(["type", "version", "aggregate_id", "x", "traceparent"])] = randomValue(random);
  if (random.next() < 0.5) properties.type = random.pick([...validTypes, "Unknown"]);
  const bodies: Array<() => unknown> = [
    () => dataSection(Buffer.from(randomText(random, 80))),
    () => randomText(random, 80),
    () => ({ id: random.next() < 0.5 ? randomUUID() : randomText(random, 10), name: randomValue(random) }),
    () => dataSection(Buffer.from(JSON.stringify({ id: randomUUID(), version: randomValue(random) }))),
    () => randomValue(random),
    () => undefined,
  ];
  const message: Message = {
    message_id: messageId,
    body: random.pick(bodies)(),
    application_properties: properties,
  };
  if (random.next() < 0.5)
    message.content_type = random.pick(["application/json", "text/plain", "", "application/octet-stream"]);
  if (random.next() < 0.5) message.subject = random.pick([...validTypes, "nonsense"]);
  if (random.next() < 0.3) message.group_id = randomText(random, 12) || "g";
  if (random.next() < 0.3)
    message.message_annotations = { [random.pick(["x-opt-custom", "x-opt-jms-type"])]: randomValue(random) };
  return message;
}

describe(`AMQP fuzzing of the receiver's queue (seed ${seed})`, () => {
  it("dead-letters every malformed message with a reason, never crashes, and keeps applying real ones", async () => {
    const random = new SeededRandom(seed);
    const receiver = app.getEndpoint("receiver");
    const before = (await deadLetters(receiver, "receiver")).count;
    const ids: string[] = [];
    const real: string[] = [];
    for (let i = 0; i < COUNT; i++) {
      const id = `fuzz-${seed}-${i}`;
      ids.push(id);
      await sendAndConfirm(broker, "entity-items.receiver", fuzzMessage(random, id));
      if (i % 10 === 0)
        real.push(...(await postEntities(app.getEndpoint("sender"), 2, `fuzz-real-${i}`)).map((e) => e.id));
    }
    // Real messages sent in between were applied.
    expect((await waitForApplied(app, real)).size).toBe(real.length);
    // Every fuzz message ended in the DLQ, each with its reason recorded. The receiver writes the
    // failure record after it settles the reject, so the broker can list a letter a moment before
    // its reason exists: wait for both.
    const dlq = await eventually("every fuzz message dead-lettered with its reason", async () => {
      const page = await deadLetters(receiver, "receiver");
      if (page.count - before < COUNT) return undefined;
      const fuzz = page.items.filter((d) => d.messageId?.startsWith(`fuzz-${seed}-`));
      return fuzz.length >= COUNT && fuzz.every((d) => d.reason) ? page : undefined;
    });
    const found = new Map(
      dlq.items.filter((d) => d.messageId?.startsWith(`fuzz-${seed}-`)).map((d) => [d.messageId, d]),
    );
    expect([...found.keys()].sort()).toEqual([...ids].sort());
    for (const letter of found.values()) {
      expect(letter.reason, letter.messageId ?? "").toBeTruthy();
      expect(letter.failureKind).toBe("poison");
    }
    // The receiver never restarted and is healthy.
    expect(app.resource("receiver").state).toBe("Running");
    expect((await getJson(`${receiver}/health`)).status).toBe(200);
  });
});
