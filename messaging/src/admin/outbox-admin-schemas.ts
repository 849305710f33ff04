import { z } from "zod";
import { integerParameter } from "../http/integer-parameter.js";
import { pageQuerySchema, pageResponseSchema } from "../http/paging.js";
import { problemResponseSchema } from "../http/problem.js";
import { outboxAttemptOutcomes, outboxStatuses } from "../outbox/tables.js";

// The outbox admin routes' request and response schemas; their `id`s name the OpenAPI components.

export const outboxStatusSchema = z.enum(outboxStatuses).meta({ id: "OutboxStatus" });

export const outboxListQuerySchema = pageQuerySchema.extend({
  status: outboxStatusSchema.default("pending").meta({ description: "Which messages to list" }),
});

export const outboxIdParamsSchema = z.object({
  id: z.uuid().meta({ description: "Outbox message id (UUIDv7)" }),
});

export const outboxReplayQuerySchema = z.object({
  limit: integerParameter({
    min: 1,
    max: 10_000,
    default: 100,
    description: "At most this many dead messages are replayed (oldest first)",
  }),
});

const timestamp = z.iso.datetime();

export const outboxMessageSchema = z
  .object({
    id: z.uuid(),
    seq: z.number().int().meta({ description: "Insert order: the publish order within an aggregate" }),
    aggregateType: z.string(),
    aggregateId: z.string(),
    type: z.string(),
    version: z.number().int(),
    destination: z.string(),
    status: outboxStatusSchema,
    attempts: z.number().int().meta({ description: "Refusals by the broker counted so far" }),
    lastError: z.string().nullable(),
    priority: z.number().int().min(0).max(9),
    deliverAt: timestamp.nullable(),
    nextAttemptAt: timestamp,
    lockedBy: z.string().nullable(),
    lockedUntil: timestamp.nullable(),
    createdAt: timestamp,
    publishedAt: timestamp.nullable(),
    deliveredAt: timestamp.nullable(),
    payload: z.unknown(),
    headers: z.record(z.string(), z.string()),
  })
  .meta({ id: "OutboxMessage" });

export const outboxAttemptSchema = z
  .object({
    at: timestamp,
    outcome: z.enum(outboxAttemptOutcomes),
    attempts: z.number().int(),
    error: z.string().nullable(),
    actor: z.string().meta({ description: "Relay instance, or 'admin'" }),
  })
  .meta({ id: "OutboxAttempt" });

export const outboxMessageDetailSchema = outboxMessageSchema
  .extend({ history: z.array(outboxAttemptSchema) })
  .meta({ id: "OutboxMessageDetail" });

export const outboxMessagePageSchema = pageResponseSchema(outboxMessageSchema).meta({
  id: "OutboxMessagePage",
});

export const outboxReplayResultSchema = z
  .object({ replayed: z.number().int().min(0) })
  .meta({ id: "OutboxReplayResult" });

export const outboxStatsSchema = z
  .object({
    counts: z.object({
      pending: z.number().int(),
      published: z.number().int(),
      delivered: z.number().int(),
      dead: z.number().int(),
    }),
    blockedAggregates: z.number().int().min(0).meta({
      description: "Aggregates stopped at a dead message (GET /api/outbox/blocked lists them)",
    }),
    oldestPendingAt: timestamp.nullable(),
    oldestPendingAgeMs: z.number().int().nullable(),
  })
  .meta({ id: "OutboxStats" });

export const blockedAggregatesQuerySchema = pageQuerySchema;

export const blockedAggregateSchema = z
  .object({
    aggregateType: z.string(),
    aggregateId: z.string(),
    destination: z.string(),
    deadMessage: z
      .object({
        id: z.uuid(),
        seq: z.number().int(),
        type: z.string(),
        version: z.number().int().meta({ description: "The message type's schema version" }),
        attempts: z.number().int(),
        lastError: z.string().nullable(),
      })
      .meta({ description: "The aggregate's first dead message: retrying it releases the aggregate" }),
    waiting: z.number().int().min(0).meta({
      description:
        "Later messages of the aggregate on this destination, not published yet: held until the dead one is delivered (unless OUTBOX_DEAD_BLOCKS_AGGREGATE=false)",
    }),
    blockedSince: timestamp.meta({ description: "When the message went dead" }),
  })
  .meta({ id: "BlockedAggregate" });

export const blockedAggregatePageSchema = pageResponseSchema(blockedAggregateSchema).meta({
  id: "BlockedAggregatePage",
});

/** 409 for DELETE of a dead message its aggregate's later messages depend on. */
export const deleteWouldLeaveGapSchema = problemResponseSchema
  .extend({
    aggregateType: z.string().optional(),
    aggregateId: z.string().optional(),
    waiting: z.number().int().min(0).optional().meta({
      description: "Later messages of the aggregate held behind the dead one now",
    }),
    retry: z.string().optional().meta({ description: "The admin route that releases the aggregate instead" }),
  })
  .meta({
    id: "DeleteWouldLeaveGapProblem",
    description:
      "RFC 9457 problem details; for a dead message in its aggregate's order, the aggregate and the retry route to use instead",
  });
