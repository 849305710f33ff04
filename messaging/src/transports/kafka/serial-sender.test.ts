import type { Producer } from "@platformatic/kafka";
import { describe, expect, it } from "vitest";
import { ProduceTimeoutError, SerialSender } from "./serial-sender.js";

/** A stand-in producer: each send waits for the test to answer it. */
function fakeProducer(): {
  producer: Producer;
  sends: Array<{ topics: string[]; answer: (error?: Error) => void }>;
  closed: () => boolean;
} {
  const sends: Array<{ topics: string[]; answer: (error?: Error) => void }> = [];
  let closed = false;
  const producer = {
    send: (request: { messages: Array<{ topic: string }> }) =>
      new Promise<void>((resolve, reject) => {
        sends.push({
          topics: request.messages.map((m) => m.topic),
          answer: (error) => (error === undefined ? resolve() : reject(error)),
        });
      }),
    close: (_force: boolean, callback: () => void) => {
      closed = true;
      callback();
    },
  } as unknown as Producer;
  return { producer, sends, closed: () => closed };
}

const record = { key: "k", value: Buffer.from("{}"), headers: {} };

/** Resolves once `check` holds, polling the microtask/timer queue (no fixed sleeps). */
async function until(check: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((resolve) => setTimeout(resolve, 5));
  expect(check()).toBe(true);
}

describe("SerialSender", () => {
  it("keeps one produce request in flight and sends what queued meanwhile together", async () => {
    const fake = fakeProducer();
    const sender = new SerialSender(() => fake.producer, 60_000);
    const first = sender.send("a", record);
    const second = sender.send("b", record);
    const third = sender.send("c", record);
    await until(() => fake.sends.length === 1);
    expect(fake.sends[0]?.topics).toEqual(["a"]);
    fake.sends[0]?.answer();
    await first;
    await until(() => fake.sends.length === 2);
    expect(fake.sends[1]?.topics).toEqual(["b", "c"]);
    fake.sends[1]?.answer();
    await Promise.all([second, third]);
  });

  it("replaces a producer whose request gets no answer, so the queue behind it moves on", async () => {
    const made: ReturnType<typeof fakeProducer>[] = [];
    const replaced: string[] = [];
    const sender = new SerialSender(
      () => {
        const fake = fakeProducer();
        made.push(fake);
        return fake.producer;
      },
      50,
      (reason) => replaced.push(reason),
    );
    const hung = sender.send("a", record);
    const behind = sender.send("b", record);
    await expect(hung).rejects.toBeInstanceOf(ProduceTimeoutError);
    expect(made).toHaveLength(2);
    expect(made[0]?.closed()).toBe(true);
    expect(sender.producer).toBe(made[1]?.producer);
    expect(replaced).toHaveLength(1);
    // The record queued behind the hung request goes out on the new producer.
    await until(() => (made[1]?.sends.length ?? 0) === 1);
    expect(made[1]?.sends[0]?.topics).toEqual(["b"]);
    made[1]?.sends[0]?.answer();
    await behind;
    // A late answer to the abandoned request changes nothing.
    made[0]?.sends[0]?.answer();
    expect(made).toHaveLength(2);
  });

  it("takes back a record still queued when its caller gives up, and never sends it", async () => {
    const fake = fakeProducer();
    const sender = new SerialSender(() => fake.producer, 60_000);
    const first = sender.send("a", record);
    const queued = sender.sendWithdrawable("b", record);
    const kept = sender.sendWithdrawable("c", record);
    await until(() => fake.sends.length === 1);
    expect(queued.withdraw()).toBe(true);
    expect(queued.withdraw()).toBe(false);
    fake.sends[0]?.answer();
    await first;
    await until(() => fake.sends.length === 2);
    expect(fake.sends[1]?.topics).toEqual(["c"]);
    // Once handed to a request, a record can no longer be taken back.
    expect(kept.withdraw()).toBe(false);
    fake.sends[1]?.answer();
    await kept.done;
  });
});
