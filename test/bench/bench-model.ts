// The model every bench stack runs: this repository's model plus the relay test queues, with the
// bench's settings. The before/after comparison starts it twice, once per tree.
import type { AppBuilder, NodeServiceResource, PostgresServerResource } from "@outbox/apphost";
import { relayTestModel } from "../support/relay-harness.js";

export function benchModel(concurrency: number): AppBuilder {
  const model = relayTestModel();
  // As many database connections as concurrent clients, so requests do not queue for the pool.
  const sender = model.resources().find((r) => r.name === "sender") as NodeServiceResource | undefined;
  const receiver = model.resources().find((r) => r.name === "receiver") as NodeServiceResource | undefined;
  if (!sender || !receiver) throw new Error("the model has no sender or receiver service");
  sender.withEnvironment("PG_POOL_MAX", concurrency);
  if (process.env.BENCH_RELAY_CONCURRENCY)
    sender.withEnvironment("OUTBOX_CONCURRENCY", process.env.BENCH_RELAY_CONCURRENCY);
  // BENCH_RECEIVER_BATCH_SIZE=1: the receiver applies one message per transaction (before batching).
  if (process.env.BENCH_RECEIVER_BATCH_SIZE)
    receiver.withEnvironment("RECEIVER_BATCH_SIZE", process.env.BENCH_RECEIVER_BATCH_SIZE);
  // The peer's logical-replication mode reads the sender's WAL. It adds little WAL for inserts;
  // set for the whole run so every figure is taken on the same server settings.
  const senderPg = model.resources().find((r) => r.name === "sender-pg") as
    PostgresServerResource | undefined;
  senderPg?.withSetting("wal_level", "logical");
  return model;
}
