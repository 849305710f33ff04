import type { HealthCheck, HealthCheckResult } from "../health.js";
import type { Logger } from "../logger.js";
import {
  context,
  propagation,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Span,
} from "@opentelemetry/api";
import type { PublishOutcome, TransportPublisher } from "../transport/transport.js";
import { sleep } from "./abortable-sleep.js";
import { backoffDelayMs, type BackoffPolicy } from "./backoff.js";
import { isLockConflict, retryOnLockConflict } from "./lock-conflict.js";
import type { OutboxMetrics } from "./metrics.js";
import { toOutgoingEnvelope } from "./outgoing-envelope.js";
import {
  claimOutboxBatch,
  markPublished,
  outboxBacklog,
  releaseClaims,
  scheduleRetry,
  type ClaimedOutboxMessage,
} from "./relay-statements.js";
import { planSettlement } from "./settlement-plan.js";
import type { SqlDb } from "./sql-db.js";
import type { OutboxTables } from "./tables.js";

/** What the relay needs of a transport's publisher (start() is the caller's). */
export type RelayPublisher = Pick<
  TransportPublisher,
  "isSendable" | "waitUntilSendable" | "publish" | "state" | "close"
>;

export interface OutboxRelayOptions {
  db: SqlDb;
  tables: OutboxTables;
  publisher: RelayPublisher;
  /** OpenTelemetry `messaging.system` of the send spans ("activemq", "kafka"). */
  messagingSystem?: string;
  /** Unique per process: written to locked_by, fences every update. */
  owner: string;
  /** The address the publisher's link is attached to; only rows for it are claimed. */
  destination: string;
  batchSize: number;
  /**
   * Claim–send–mark loops running at once: while one waits for its batch's outcomes, another
   * claims and sends the next batch (order stays safe: see claimOutboxBatch).
   */
  concurrency?: number;
  leaseMs: number;
  /** Fallback poll when idle: catches missed notifications and expired leases. */
  pollIntervalMs: number;
  sendTimeoutMs: number;
  backoff: BackoffPolicy;
  /** A refusal that counts (rejected, modified delivery-failed) this many times → dead. */
  maxAttempts?: number;
  /** Whether a dead row keeps its aggregate's later rows back (default true: held, see claimOutboxBatch). */
  deadBlocksAggregate?: boolean;
  metrics?: OutboxMetrics;
  /** State of the commit listener, shown in /health (a lost LISTEN only slows the relay to its poll). */
  wakeSource?: () => { listening: boolean; lastError: string | undefined } | undefined;
  logger: Logger;
  random?: () => number;
}

/** What this relay instance has done so far. */
export interface RelayStats {
  running: boolean;
  published: number;
  dead: number;
  lastPublishedAt: Date | undefined;
  /** Set when the loop died (not expected: it handles its errors). */
  crashed: string | undefined;
}

const tracer = trace.getTracer("outbox-relay");

type Iteration =
  | { kind: "idle" }
  | { kind: "more" }
  /** The link never became sendable in the wait window. */
  | { kind: "broker-unavailable"; reason: string }
  /** Sent, but some outcomes are unknown (connection lost, timeouts): rows were released. */
  | { kind: "outcomes-unknown"; reason: string };

/**
 * Publishes outbox rows to the broker, at least once, and marks them published only once the
 * broker has accepted them (durable message to a durable queue: accepted = on disk).
 *
 * Loop: wait for a sendable link → claim a batch (lease, SKIP LOCKED) → send all, pipelined, in
 * claim order → write back: accepted = published; unknown = claim released (resend later, the
 * broker drops duplicates by their deduplication id); refused = retry after a backoff → go again at once
 * when the batch was not empty, else sleep the poll interval (or until woken).
 * Broker trouble never counts against a message: the relay backs off as a whole.
 */
export class OutboxRelay {
  private readonly abort = new AbortController();
  private readonly wakers = new Set<() => void>();
  private readonly random: () => number;
  private running: Promise<void> | undefined;
  private brokerFailures = 0;
  private brokerProblem: string | undefined;
  private databaseFailures = 0;
  private databaseProblem: string | undefined;
  private publishedTotal = 0;
  private deadTotal = 0;
  private lastPublishedAt: Date | undefined;
  private crashed: string | undefined;
  /** Earliest retry this instance scheduled: the idle sleep ends then, not at the next poll. */
  private nextRetryAt = Number.POSITIVE_INFINITY;

  constructor(private readonly opts: OutboxRelayOptions) {
    this.random = opts.random ?? Math.random;
  }

  start(): void {
    if (this.running !== undefined || this.abort.signal.aborted) return;
    const concurrency = Math.max(1, this.opts.concurrency ?? 1);
    this.opts.logger.info(
      { owner: this.opts.owner, address: this.opts.destination, batchSize: this.opts.batchSize, concurrency },
      "outbox relay started",
    );
    const workers = Array.from({ length: concurrency }, () => this.run());
    this.running = Promise.all(workers)
      .then(() => undefined)
      .catch((error: unknown) => {
        // Not expected (run() handles its errors), but a dead relay must show in /health.
        this.crashed = describe(error);
        this.opts.logger.error({ err: error }, "outbox relay crashed");
      });
  }

  stats(): RelayStats {
    return {
      running: this.running !== undefined && !this.abort.signal.aborted && this.crashed === undefined,
      published: this.publishedTotal,
      dead: this.deadTotal,
      lastPublishedAt: this.lastPublishedAt,
      crashed: this.crashed,
    };
  }

  /** Ends the idle sleep early: there is probably new work (hook for a NOTIFY listener). */
  wake(): void {
    for (const wake of [...this.wakers]) wake();
  }

  /**
   * Stops claiming, lets sends already in flight finish, releases the claims of rows whose outcome
   * is unknown, then detaches the link — all within `budgetMs` (default 4 s, inside the service
   * host's 5 s per-hook budget): about half of it for outcomes to arrive, then the publisher is
   * closed (every send still in flight resolves as unknown, so the loop releases those rows at
   * once instead of leaving them leased until the lease runs out), and the rest for the releases.
   * Rows still locked if the budget runs out become claimable again when their lease ends.
   */
  async stop(budgetMs = 4_000): Promise<void> {
    const deadline = Date.now() + budgetMs;
    this.abort.abort();
    this.wake();
    const running = this.running ?? Promise.resolve();
    const finished = await settlesWithin(running, budgetMs / 2);
    const closeMs = Math.max(100, Math.min(1_000, (deadline - Date.now()) / 2));
    await settlesWithin(this.opts.publisher.close(), closeMs);
    if (!finished && !(await settlesWithin(running, Math.max(0, deadline - Date.now())))) {
      this.opts.logger.warn("outbox relay did not stop in time; its claims expire with the lease");
    }
    this.opts.logger.info({ published: this.publishedTotal }, "outbox relay stopped");
  }

  /**
   * Degraded, not unhealthy, while the broker is unreachable: the sender keeps accepting writes
   * during a broker outage (that is what the outbox is for); rows wait in the database and go out
   * when the broker is back. The "database" check turns unhealthy when the database is gone.
   */
  healthCheck(): HealthCheck {
    return async (): Promise<HealthCheckResult> => {
      const link = this.opts.publisher.state();
      const data: Record<string, unknown> = {
        ...(await this.backlog()),
        owner: this.opts.owner,
        address: this.opts.destination,
        linkOpen: link.linkOpen,
        inFlight: link.inFlight,
        published: this.publishedTotal,
        dead: this.deadTotal,
        lastPublishedAt: this.lastPublishedAt?.toISOString() ?? null,
        brokerFailures: this.brokerFailures,
        ...listenerData(this.opts.wakeSource?.()),
      };
      if (this.crashed !== undefined)
        return { status: "unhealthy", detail: `relay crashed: ${this.crashed}`, data };
      if (this.abort.signal.aborted) return { status: "unhealthy", detail: "relay stopped", data };
      if (this.databaseProblem !== undefined) {
        return {
          status: "degraded",
          detail: `outbox relay cannot reach the database: ${this.databaseProblem}`,
          data,
        };
      }
      if (!link.connected) {
        return {
          status: "degraded",
          detail: `broker unreachable, messages wait in the outbox: ${link.lastError ?? "connecting"}`,
          data,
        };
      }
      if (this.brokerProblem !== undefined)
        return { status: "degraded", detail: `publishing stalled: ${this.brokerProblem}`, data };
      return { status: "healthy", data };
    };
  }

  /** Pending rows and the age of the oldest (all instances); empty when the database is down. */
  private async backlog(): Promise<Record<string, unknown>> {
    try {
      const { pending, oldestPendingAt } = await outboxBacklog(this.opts.db, this.opts.tables);
      return {
        pending,
        oldestPendingAgeMs:
          oldestPendingAt === null ? null : Math.max(0, Date.now() - oldestPendingAt.getTime()),
      };
    } catch {
      return {};
    }
  }

  private async run(): Promise<void> {
    const signal = this.abort.signal;
    while (!signal.aborted) {
      let iteration: Iteration;
      try {
        iteration = await this.iterate(signal);
        if (this.databaseProblem !== undefined)
          this.opts.logger.info("outbox relay reaches the database again");
        this.databaseFailures = 0;
        this.databaseProblem = undefined;
      } catch (error) {
        // The database (or something unexpected) failed: rows claimed in this iteration stay
        // locked until their lease runs out, then any instance picks them up again.
        this.databaseFailures += 1;
        this.databaseProblem = describe(error);
        const delayMs = backoffDelayMs(this.databaseFailures, this.opts.backoff, this.random);
        this.opts.logger.warn(
          // The pg error, not drizzle's wrapper (which repeats the whole query and its parameters).
          { err: rootCause(error), failures: this.databaseFailures, delayMs },
          "outbox relay iteration failed; backing off",
        );
        await sleep(delayMs, signal);
        continue;
      }

      switch (iteration.kind) {
        case "more":
          this.brokerRecovered();
          break;
        case "idle": {
          this.brokerRecovered();
          // Until woken by a commit (NOTIFY), the next retry we scheduled, or the fallback poll.
          const untilRetry = this.nextRetryAt - Date.now();
          if (untilRetry <= 0) this.nextRetryAt = Number.POSITIVE_INFINITY;
          await sleep(Math.max(0, Math.min(this.opts.pollIntervalMs, untilRetry)), signal, (wake) =>
            this.onWake(wake),
          );
          break;
        }
        case "broker-unavailable":
          // The wait for a sendable link was the pause; look again (the window grows).
          this.brokerFailed(iteration.reason);
          break;
        case "outcomes-unknown":
          this.brokerFailed(iteration.reason);
          await sleep(backoffDelayMs(this.brokerFailures, this.opts.backoff, this.random), signal);
          break;
      }
    }
  }

  private async iterate(signal: AbortSignal): Promise<Iteration> {
    const { publisher, db, tables, owner } = this.opts;
    // Claim only when the broker can take messages: during an outage rows stay unclaimed, so
    // other instances with a working connection can publish them.
    if (!publisher.isSendable()) {
      const waitMs = backoffDelayMs(this.brokerFailures + 1, this.opts.backoff, this.random);
      if (!(await publisher.waitUntilSendable(waitMs, signal))) {
        return { kind: "broker-unavailable", reason: publisher.state().lastError ?? "link not sendable" };
      }
    }
    if (signal.aborted) return { kind: "idle" };

    // The lease is measured from before the claim: the database starts it during the statement,
    // so a slow claim must shorten our sending window, never lengthen it past the lease.
    const claimStartedAt = Date.now();
    const rows = await claimOutboxBatch(db, tables, {
      owner,
      destination: this.opts.destination,
      limit: this.opts.batchSize,
      leaseMs: this.opts.leaseMs,
      deadBlocksAggregate: this.opts.deadBlocksAggregate ?? true,
    });
    if (rows.length === 0) return { kind: "idle" };

    const sent = await this.publishBatch(rows, signal, claimStartedAt);
    const outcomes = sent.map((s) => s.outcome);
    const plan = planSettlement(rows, outcomes, this.opts.backoff, this.random);
    const acceptedAt = new Map(sent.map((s, i) => [rows[i]?.id, s.at]));

    // Every write is fenced by this claim's token (not the instance): see claimOutboxBatch.
    // Each is retried when a deadlock or serialization failure aborted it, and one that still
    // conflicts does not skip the others: the released and refused rows must not wait for the lease.
    const claim = { token: rows[0]?.claimToken ?? "", owner };
    const conflicts: unknown[] = [];
    const settle = async <T>(write: () => Promise<T>, unsettled: T): Promise<T> => {
      try {
        return await retryOnLockConflict(write);
      } catch (error) {
        // Anything else (the database gone) ends the iteration at once, as before.
        if (!isLockConflict(error)) throw error;
        conflicts.push(error);
        return unsettled;
      }
    };
    const marked = await settle(
      () =>
        markPublished(
          db,
          tables,
          claim.token,
          plan.publish.map((id) => ({ id, at: acceptedAt.get(id) ?? new Date() })),
        ),
      [],
    );
    const published = marked.length;
    const released =
      (await settle(() => releaseClaims(db, tables, claim.token, plan.release, plan.unknownReason), 0)) +
      (await settle(
        () => releaseClaims(db, tables, claim.token, plan.releaseUnsent, plan.unknownReason, false),
        0,
      ));
    const maxAttempts = this.opts.maxAttempts ?? 10;
    for (const retry of plan.retry) {
      const result = await settle(() => scheduleRetry(db, tables, claim, retry, maxAttempts), undefined);
      if (result?.status === "dead") {
        this.deadTotal += 1;
        this.opts.metrics?.recordFailure("dead");
        this.opts.logger.error(
          { outboxId: retry.id, attempts: result.attempts, error: retry.error },
          "outbox message is dead after too many refusals; an operator must retry it (its key's later messages wait)",
        );
      } else if (result !== undefined) {
        this.nextRetryAt = Math.min(this.nextRetryAt, Date.now() + retry.delayMs);
      }
    }
    this.opts.metrics?.recordPublished(marked);
    this.opts.metrics?.recordFailure("unknown", plan.release.length + plan.releaseUnsent.length);
    for (const retry of plan.retry) this.opts.metrics?.recordFailure(retry.outcome);

    this.publishedTotal += published;
    if (published > 0) this.lastPublishedAt = new Date();
    if (published < plan.publish.length) {
      // Either the consumer's delivery receipt got there first (the row is already delivered), or
      // our lease ran out and another instance claimed the rows: it resends them and the broker
      // drops the duplicates. Neither needs action; only the latter is worth a warning.
      this.opts.logger.info(
        { accepted: plan.publish.length, marked: published },
        "some accepted rows were no longer ours to mark (delivered already, or lease lost)",
      );
    }
    for (const retry of plan.retry)
      this.opts.logger.warn(
        { outboxId: retry.id, error: retry.error, delayMs: retry.delayMs },
        "outbox message refused by the broker; retrying later",
      );
    this.opts.logger.debug(
      { claimed: rows.length, published, released, retried: plan.retry.length },
      "outbox batch done",
    );
    // Writes that kept conflicting leave their rows leased: the lease returns them (possibly sent,
    // see scheduleRetry). The iteration counts as a database failure, so the relay backs off.
    if (conflicts.length > 0) throw conflicts[0];

    if (plan.release.length + plan.releaseUnsent.length > 0)
      return { kind: "outcomes-unknown", reason: plan.unknownReason ?? "unknown outcome" };
    return { kind: "more" };
  }

  /**
   * Sends the batch in claim order, pipelined up to the link credit. Once a row cannot be sent
   * (link gone, lease budget used up, stopping) the rest are not sent either. Each send gets a
   * PRODUCER span, child of the trace context stored with the row (the HTTP request), and the
   * message carries that span's context to the consumer.
   */
  private async publishBatch(
    rows: ClaimedOutboxMessage[],
    signal: AbortSignal,
    claimStartedAt: number,
  ): Promise<Array<{ outcome: PublishOutcome; at: Date }>> {
    const { publisher } = this.opts;
    // Every outcome must be known before the lease ends: the last send starts in time for its timeout.
    const sendBy = claimStartedAt + this.opts.leaseMs - this.opts.sendTimeoutMs;
    const outcomes: Array<Promise<{ outcome: PublishOutcome; at: Date }>> = [];
    let stopReason: string | undefined;
    for (const row of rows) {
      if (stopReason === undefined && signal.aborted) stopReason = "relay stopping";
      if (stopReason === undefined && !publisher.isSendable()) {
        const ok = await publisher.waitUntilSendable(sendBy - Date.now(), signal);
        if (!ok)
          stopReason = signal.aborted
            ? "relay stopping"
            : (publisher.state().lastError ?? "link not sendable");
      }
      if (stopReason !== undefined) {
        outcomes.push(
          Promise.resolve({
            outcome: { kind: "unknown", reason: `not sent: ${stopReason}`, notSent: true },
            at: new Date(),
          }),
        );
        continue;
      }
      const span = this.startSendSpan(row);
      const carrier: Record<string, string> = {};
      propagation.inject(trace.setSpan(context.active(), span), carrier);
      const traceHeaders = carrier.traceparent
        ? {
            traceparent: carrier.traceparent,
            ...(carrier.tracestate ? { tracestate: carrier.tracestate } : {}),
          }
        : row.headers;
      outcomes.push(
        publisher.publish(toOutgoingEnvelope(row, traceHeaders)).then((outcome) => {
          endSendSpan(span, outcome);
          return { outcome, at: new Date() };
        }),
      );
    }
    // publish() never rejects, so this waits for every outcome (each bounded by the send timeout).
    return Promise.all(outcomes);
  }

  private startSendSpan(row: ClaimedOutboxMessage): Span {
    const parent = propagation.extract(ROOT_CONTEXT, row.headers);
    return tracer.startSpan(
      `send ${row.destination}`,
      {
        kind: SpanKind.PRODUCER,
        attributes: {
          "messaging.system": this.opts.messagingSystem ?? "activemq",
          "messaging.destination.name": row.destination,
          "messaging.operation.type": "send",
          "messaging.operation.name": "send",
          "messaging.message.id": row.id,
        },
      },
      parent,
    );
  }

  private onWake(wake: () => void): () => void {
    this.wakers.add(wake);
    return () => this.wakers.delete(wake);
  }

  private brokerFailed(reason: string): void {
    this.brokerFailures += 1;
    if (this.brokerProblem === undefined) {
      this.opts.logger.warn({ reason }, "outbox relay cannot publish; rows stay pending and are retried");
    }
    this.brokerProblem = reason;
  }

  private brokerRecovered(): void {
    if (this.brokerProblem !== undefined) {
      this.opts.logger.info({ failures: this.brokerFailures }, "outbox relay publishing again");
    }
    this.brokerFailures = 0;
    this.brokerProblem = undefined;
  }
}

function listenerData(
  state: { listening: boolean; lastError: string | undefined } | undefined,
): Record<string, unknown> {
  if (state === undefined) return { listening: null };
  return state.lastError === undefined
    ? { listening: state.listening }
    : { listening: state.listening, listenerError: state.lastError };
}

function endSendSpan(span: Span, outcome: PublishOutcome): void {
  if (outcome.kind !== "accepted") {
    span.setStatus({
      code: SpanStatusCode.ERROR,
      message: "reason" in outcome ? `${outcome.kind}: ${outcome.reason}` : outcome.kind,
    });
  }
  span.end();
}

/** True when `promise` settles within `ms` (it never rejects here; a rejection counts as settled). */
async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([
      promise.then(
        () => true,
        () => true,
      ),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

function rootCause(error: unknown): unknown {
  let e = error;
  for (let depth = 0; e instanceof Error && e.cause !== undefined && depth < 3; depth++) e = e.cause;
  return e;
}

function describe(error: unknown): string {
  const cause = rootCause(error);
  return cause instanceof Error ? cause.message : String(cause);
}
