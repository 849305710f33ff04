import { isTransientConnectionError } from "../postgres/transient-error.js";
import type pg from "pg";
import type { IncomingEnvelope } from "../contracts/envelope.js";
import type { InboundMessage } from "../transport/transport.js";
import { classifyError, describeError } from "./classify-error.js";
import type { HandlerRegistry, MessageOf, MessageTypes, MessageVersions } from "./handler-registry.js";
import { forgetMessages, markProcessed, recordMessages, type InboxEntry } from "./inbox-store.js";
import type { InboxTables } from "./inbox-tables.js";
import { RetryLaterError } from "./retry-later.js";

/**
 * How the inbox took a message: applied now; duplicate (its id was in the inbox: nothing done);
 * already-applied (a new id whose change the handler found already there: recorded, not repeated).
 */
export type InboxResult = "applied" | "duplicate" | "already-applied";

/** What a handler returns: nothing or "applied" (applied now), or "already-applied". */
export type InboxHandlerResult = void | "applied" | "already-applied";

/** The transaction a handler runs in: a pg client inside BEGIN (wrap it for drizzle: `drizzle(tx)`). */
export type InboxTransaction = pg.PoolClient;

/** What became of one delivery; the consumer settles it accordingly. */
export type InboxOutcome =
  /** Committed (now or before): accept. */
  | { action: "accept"; result: InboxResult; messageId: string; type: string; key: string }
  /** Poison: reject, the broker dead-letters it at once. */
  | { action: "reject"; reason: string; messageId?: string }
  /**
   * Transient: redelivered after the broker's delay, counting an attempt. `databaseUnavailable`:
   * the database could not be reached, so the consumer pauses until it answers.
   */
  | { action: "retry"; reason: string; messageId?: string; databaseUnavailable?: boolean };

/**
 * A consumer group whose effect is its own inbox (e.g. a log keyed by message id, so that one
 * INSERT is both): no inbox rows are written; `applyBatch` deduplicates itself and answers one
 * result per message, in order (a RetryLaterError defers that message alone).
 */
export interface SelfDeduplicatingHandler<D extends MessageVersions> {
  types: MessageTypes<D>;
  applyBatch(
    messages: readonly MessageOf<D>[],
    tx: InboxTransaction,
  ): Promise<readonly (InboxResult | RetryLaterError)[]>;
}

/** The handlers of one consumer group: a registry by type (with inbox rows), or a self-deduplicating batch. */
export type InboxHandlers<D extends MessageVersions> =
  | { registry: HandlerRegistry<D, InboxTransaction, InboxHandlerResult> }
  | { selfDeduplicating: SelfDeduplicatingHandler<D> };

/** One delivery of a batch, with a way to run work inside its own process span. */
export interface InboxBatchItem {
  message: InboundMessage<IncomingEnvelope>;
  run<T>(work: () => Promise<T>): Promise<T>;
}

export interface InboxBatchProcessorOptions<D extends MessageVersions> {
  pool: pg.Pool;
  tables: InboxTables;
  group: string;
  handlers: InboxHandlers<D>;
  /** Whether rows of an upgraded single-group inbox may still exist (they count as applied). */
  ungrouped: () => boolean;
  /**
   * Runs once per commit, after it and before the accepts, with every message it covered (first
   * applications and duplicates alike), e.g. one delivery receipt. If it fails, each of them is
   * retried: the redeliveries are duplicates for the inbox and run it again (at least once).
   */
  afterCommit?: (accepted: readonly AcceptedOutcome[]) => Promise<void>;
  /** Told why a batch transaction failed, before its messages are applied one at a time. */
  onFallback?: (messages: number, error: unknown) => void;
}

export type AcceptedOutcome = Extract<InboxOutcome, { action: "accept" }>;

/** What became of a batch: one outcome per delivery (same order), and whether it fell back. */
export interface InboxBatchResult {
  outcomes: InboxOutcome[];
  /** The batch transaction failed and its messages were applied one at a time. */
  fellBack: boolean;
}

type Valid<D extends MessageVersions> = { index: number; message: MessageOf<D>; item: InboxBatchItem };

/**
 * Decodes each delivery (poison is rejected on its own), applies the valid messages in one
 * transaction (inbox rows + each handler's effect), then runs the follow-up once for every committed
 * message, in the first message's span; if it fails, all of them are retried. When the batch
 * transaction fails, nothing of it committed: the messages are applied one at a time, in order, so a
 * failing message fails only itself. A RetryLaterError defers only its message (the batch commits);
 * an unreachable database would fail every message again, so they are all retried at once and the
 * consumer pauses. Never throws.
 */
export function createInboxBatchProcessor<D extends MessageVersions>(
  options: InboxBatchProcessorOptions<D>,
): (items: readonly InboxBatchItem[]) => Promise<InboxBatchResult> {
  const types =
    "registry" in options.handlers
      ? options.handlers.registry.types
      : options.handlers.selfDeduplicating.types;
  return async (items) => {
    const outcomes = new Array<InboxOutcome>(items.length);
    const valid: Valid<D>[] = [];
    items.forEach((item, index) => {
      const decoded = types.decode(item.message.value);
      if (decoded.ok) valid.push({ index, message: decoded.message, item });
      else
        outcomes[index] =
          decoded.messageId === undefined
            ? { action: "reject", reason: decoded.reason }
            : { action: "reject", reason: decoded.reason, messageId: decoded.messageId };
    });
    let fellBack = false;
    const first = valid[0];
    if (first !== undefined && valid.length === 1) {
      outcomes[first.index] = await first.item.run(() => applyOne(options, first.message));
    } else if (first !== undefined) {
      let results: readonly (InboxResult | RetryLaterError)[] | undefined;
      let unavailable: unknown;
      try {
        // The batch's queries run in its first message's process span: a lone message (the usual
        // case at low load) keeps its whole journey, database writes included, in one trace.
        results = await first.item.run(() =>
          applyInTransaction(
            options,
            valid.map((v) => v.message),
          ),
        );
      } catch (error) {
        if (isTransientConnectionError(error)) unavailable = error;
        else options.onFallback?.(valid.length, error);
      }
      if (results !== undefined) {
        const applied = results;
        valid.forEach((v, i) => {
          outcomes[v.index] = toOutcome(v.message, applied[i] as InboxResult | RetryLaterError);
        });
      } else if (unavailable !== undefined) {
        const reason = describeError(unavailable);
        for (const v of valid) {
          outcomes[v.index] = {
            action: "retry",
            reason,
            messageId: v.message.messageId,
            databaseUnavailable: true,
          };
        }
      } else {
        fellBack = true;
        // One at a time and in order: per-key order holds within the batch too.
        for (const v of valid) outcomes[v.index] = await v.item.run(() => applyOne(options, v.message));
      }
    }
    await followUp(options, items, valid, outcomes);
    return { outcomes, fellBack };
  };
}

/** Runs the follow-up once for every accepted message, in the first one's span. */
async function followUp<D extends MessageVersions>(
  options: InboxBatchProcessorOptions<D>,
  items: readonly InboxBatchItem[],
  valid: readonly Valid<D>[],
  outcomes: InboxOutcome[],
): Promise<void> {
  const afterCommit = options.afterCommit;
  if (afterCommit === undefined) return;
  const accepted = valid.flatMap(({ index }) => {
    const outcome = outcomes[index];
    return outcome?.action === "accept" ? [{ index, outcome }] : [];
  });
  const runIn = accepted[0] === undefined ? undefined : items[accepted[0].index];
  if (runIn === undefined) return;
  try {
    await runIn.run(() => afterCommit(accepted.map((a) => a.outcome)));
  } catch (error) {
    const reason = `applied, but the follow-up failed: ${describeError(error)}`;
    for (const { index, outcome } of accepted) {
      outcomes[index] = { action: "retry", reason, messageId: outcome.messageId };
    }
  }
}

function toOutcome(
  message: { messageId: string; type: string; aggregateId: string },
  result: InboxResult | RetryLaterError,
): InboxOutcome {
  if (result instanceof RetryLaterError)
    return { action: "retry", reason: result.message, messageId: message.messageId };
  return {
    action: "accept",
    result,
    messageId: message.messageId,
    type: message.type,
    key: message.aggregateId,
  };
}

/** Applies one message in its own transaction and turns an error into reject or retry. Never throws. */
async function applyOne<D extends MessageVersions>(
  options: InboxBatchProcessorOptions<D>,
  message: MessageOf<D>,
): Promise<InboxOutcome> {
  try {
    const [result] = await applyInTransaction(options, [message]);
    if (result === undefined) throw new Error("the handler returned no result for the message");
    return toOutcome(message, result);
  } catch (error) {
    const reason = describeError(error);
    if (error instanceof RetryLaterError) return { action: "retry", reason, messageId: message.messageId };
    if (classifyError(error) === "poison") return { action: "reject", reason, messageId: message.messageId };
    return isTransientConnectionError(error)
      ? { action: "retry", reason, messageId: message.messageId, databaseUnavailable: true }
      : { action: "retry", reason, messageId: message.messageId };
  }
}

/**
 * One transaction: the inbox rows of every message in one statement (a conflict = already applied =
 * duplicate), each new message's handler in the given order, then one update marking them
 * processed. A message deferred by RetryLaterError has its inbox row removed again. Any other error
 * rolls everything back and is thrown.
 */
async function applyInTransaction<D extends MessageVersions>(
  options: InboxBatchProcessorOptions<D>,
  messages: readonly MessageOf<D>[],
): Promise<readonly (InboxResult | RetryLaterError)[]> {
  const { handlers, tables, group } = options;
  return withTransaction(options.pool, async (tx) => {
    if ("selfDeduplicating" in handlers) {
      const results = await handlers.selfDeduplicating.applyBatch(messages, tx);
      if (results.length !== messages.length) {
        throw new Error(`applyBatch returned ${results.length} results for ${messages.length} messages`);
      }
      return results;
    }
    const entries: InboxEntry[] = messages.map((m) => ({
      messageId: m.messageId,
      type: m.type,
      version: m.version,
      key: m.aggregateId,
    }));
    const fresh = await recordMessages(tx, tables, group, entries, options.ungrouped());
    const results: (InboxResult | RetryLaterError)[] = [];
    const deferred: string[] = [];
    const processed: string[] = [];
    for (const message of messages) {
      // delete: a second copy of the same id in one batch is a duplicate of the first.
      if (!fresh.delete(message.messageId)) {
        results.push("duplicate");
        continue;
      }
      try {
        const result = await handlers.registry.handle(message, tx, undefined);
        results.push(result === "already-applied" ? "already-applied" : "applied");
        processed.push(message.messageId);
      } catch (error) {
        if (!(error instanceof RetryLaterError)) throw error;
        results.push(error);
        deferred.push(message.messageId);
      }
    }
    await forgetMessages(tx, tables, group, deferred);
    await markProcessed(tx, tables, group, processed);
    return results;
  });
}

/** BEGIN … COMMIT on one pooled client; ROLLBACK on error. A broken connection is not pooled again. */
async function withTransaction<T>(pool: pg.Pool, work: (tx: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    await client.query("BEGIN");
    const result = await work(client);
    await client.query("COMMIT");
    return result;
  } catch (error) {
    await client.query("ROLLBACK").catch((rollbackError: unknown) => {
      broken = rollbackError instanceof Error ? rollbackError : new Error(String(rollbackError));
    });
    if (broken === undefined && isTransientConnectionError(error)) broken = error as Error;
    throw error;
  } finally {
    client.release(broken);
  }
}
