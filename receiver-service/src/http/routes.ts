import {
  HttpProblem,
  pageQuerySchema,
  pageResponseSchema,
  problemResponseSchema,
  type ServiceHost,
} from "@outbox/service-defaults";
import type { Database } from "../data/db.js";
import { findReceivedItem, listDeliveryFailures, listReceivedItems } from "../data/queries.js";
import type { ReceivedItemRow } from "../data/schema.js";
import {
  deliveryFailureSchema,
  itemIdParamsSchema,
  receivedItemSchema,
  type DeliveryFailureView,
  type ReceivedItem,
} from "./schemas.js";

const TAG = "ReceivedItems";

export function registerRoutes(host: ServiceHost, db: Database): void {
  host.route({
    method: "get",
    path: "/api/ReceivedItems",
    operationId: "listReceivedItems",
    summary: "Entities received from the sender, newest first",
    tags: [TAG],
    request: { query: pageQuerySchema },
    responses: {
      200: { description: "A page of received items", schema: pageResponseSchema(receivedItemSchema) },
    },
    handler: async ({ query, res }) => {
      const { items, total } = await listReceivedItems(db, query.page, query.pageSize);
      res.json({ items: items.map(toView), page: query.page, pageSize: query.pageSize, total });
    },
  });

  host.route({
    method: "get",
    path: "/api/ReceivedItems/:id",
    operationId: "getReceivedItem",
    summary: "One received entity by its id",
    tags: [TAG],
    request: { params: itemIdParamsSchema },
    responses: {
      200: { description: "The received item", schema: receivedItemSchema },
      404: { description: "Not received (yet)", schema: problemResponseSchema },
    },
    handler: async ({ params, res }) => {
      const row = await findReceivedItem(db, params.id);
      if (row === undefined) throw new HttpProblem(404, "Not Found", `No received item with id ${params.id}`);
      res.json(toView(row));
    },
  });

  host.route({
    method: "get",
    path: "/api/DeliveryFailures",
    operationId: "listDeliveryFailures",
    summary: "Failed delivery attempts (transient: redelivered; poison: dead-lettered), newest first",
    tags: ["Diagnostics"],
    request: { query: pageQuerySchema },
    responses: {
      200: { description: "A page of failures", schema: pageResponseSchema(deliveryFailureSchema) },
    },
    handler: async ({ query, res }) => {
      const { items, total } = await listDeliveryFailures(db, query.page, query.pageSize);
      const views: DeliveryFailureView[] = items.map((f) => ({
        ...f,
        occurredAt: f.occurredAt.toISOString(),
      }));
      res.json({ items: views, page: query.page, pageSize: query.pageSize, total });
    },
  });
}

function toView(row: ReceivedItemRow): ReceivedItem {
  return {
    id: row.id,
    messageId: row.messageId,
    name: row.name,
    description: row.description,
    sourceCreatedAt: row.sourceCreatedAt.toISOString(),
    receivedAt: row.receivedAt.toISOString(),
    version: row.version,
    sourceUpdatedAt: row.sourceUpdatedAt?.toISOString() ?? null,
  };
}
