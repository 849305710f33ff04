import { textField, type ServiceHost } from "@outbox/service-defaults";
import { and, asc, eq, inArray } from "drizzle-orm";
import { z } from "zod";
import type { Database } from "../data/db.js";
import { auditLog, deliveryFailures, inbox } from "../data/schema.js";

const timestamp = z.iso.datetime();

const journeySchema = z
  .object({
    messageId: z.string(),
    groups: z.array(
      z.object({
        group: z.string(),
        appliedAt: timestamp
          .nullable()
          .meta({ description: "When the group committed its effect (null: not yet)" }),
      }),
    ),
    failures: z.array(
      z.object({
        group: z.string().nullable(),
        attempt: z.number().int(),
        kind: z.enum(["transient", "poison"]),
        error: z.string(),
        occurredAt: timestamp,
      }),
    ),
  })
  .meta({ id: "MessageJourney" });

/**
 * Read-only: what this service did with one message, per consumer group — applied when, and
 * every failed attempt. The dashboard's message journey asks this instead of reading the database.
 * Admin routes (main.ts): a failure's error text is operator data, as in /api/DeliveryFailures.
 */
export function registerMessageJourneyRoutes(
  host: ServiceHost,
  deps: { db: Database; mainGroup: string; auditGroup?: string; groups: string[] },
): void {
  host.route({
    method: "get",
    path: "/api/consumer-groups",
    operationId: "listConsumerGroups",
    summary: "The consumer groups this service consumes for (each has its own queue and dead-letter queue)",
    tags: ["Messages"],
    responses: { 200: { description: "Groups", schema: z.object({ groups: z.array(z.string()) }) } },
    handler: ({ res }) => {
      res.json({ groups: deps.groups });
    },
  });

  host.route({
    method: "get",
    path: "/api/messages/:messageId",
    operationId: "getMessageJourney",
    summary: "What each consumer group did with one message: applied when, and every failed attempt",
    tags: ["Messages"],
    request: { params: z.object({ messageId: textField({ minLength: 1, maxLength: 200 }) }) },
    responses: { 200: { description: "The message's journey here", schema: journeySchema } },
    handler: async ({ params, res }) => {
      const { db } = deps;
      const id = params.messageId;
      // The group's own row, or one of the single-group inbox the upgrade kept ('*').
      const [main] = await db
        .select()
        .from(inbox)
        .where(and(inArray(inbox.consumerGroup, [deps.mainGroup, "*"]), eq(inbox.messageId, id)))
        .limit(1);
      const groups = [
        { group: deps.mainGroup, appliedAt: (main?.processedAt ?? main?.receivedAt)?.toISOString() ?? null },
      ];
      if (deps.auditGroup !== undefined) {
        const [audit] = await db.select().from(auditLog).where(eq(auditLog.messageId, id)).limit(1);
        groups.push({ group: deps.auditGroup, appliedAt: audit?.recordedAt.toISOString() ?? null });
      }
      const failures = await db
        .select()
        .from(deliveryFailures)
        .where(eq(deliveryFailures.messageId, id))
        .orderBy(asc(deliveryFailures.id));
      res.json({
        messageId: id,
        groups,
        failures: failures.map((f) => ({
          group: f.consumerGroup,
          attempt: f.attempt,
          kind: f.kind,
          error: f.error,
          occurredAt: f.occurredAt.toISOString(),
        })),
      });
    },
  });
}
