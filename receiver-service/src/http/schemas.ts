import { z } from "zod";

export const receivedItemSchema = z
  .object({
    id: z.uuid().meta({ description: "The entity id (as created by the sender)" }),
    messageId: z.string().meta({ description: "AMQP message id that delivered it (the sender's outbox id)" }),
    name: z.string(),
    description: z.string().nullable(),
    sourceCreatedAt: z.iso.datetime().meta({ description: "When the sender created the entity" }),
    receivedAt: z.iso.datetime().meta({ description: "When the receiver committed it" }),
    version: z
      .number()
      .int()
      .min(1)
      .meta({ description: "The version applied (1: created; +1 per EntityItemUpdated, in order)" }),
    sourceUpdatedAt: z.iso
      .datetime()
      .nullable()
      .meta({ description: "When the sender made the update applied last" }),
  })
  .meta({ id: "ReceivedItem" });
export type ReceivedItem = z.infer<typeof receivedItemSchema>;

export const deliveryFailureSchema = z
  .object({
    id: z.number().int(),
    messageId: z.string().nullable(),
    consumerGroup: z.string().nullable().meta({ description: "The consumer group that failed" }),
    attempt: z.number().int().meta({ description: "1-based delivery attempt (AMQP delivery-count + 1)" }),
    kind: z.enum(["transient", "poison"]).meta({
      description: "transient: redelivered by the broker; poison: rejected to the dead-letter queue",
    }),
    error: z.string(),
    occurredAt: z.iso.datetime(),
  })
  .meta({ id: "DeliveryFailure" });
export type DeliveryFailureView = z.infer<typeof deliveryFailureSchema>;

export const itemIdParamsSchema = z.object({
  id: z.uuid().meta({ description: "Entity id (uuid)" }),
});
