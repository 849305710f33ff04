import {
  HttpProblem,
  pageQuerySchema,
  problemResponseSchema,
  type ServiceHost,
} from "@outbox/service-defaults";
import { z } from "zod";
import { isTransientConnectionError } from "../data/connection-errors.js";
import type { Database } from "../data/db.js";
import { createEntityItem } from "../domain/create-entity-item.js";
import { createEntityItemIdempotently } from "../domain/idempotent-create.js";
import { getEntityItem, listEntityItemsPage } from "../domain/entity-item-queries.js";
import {
  createEntityItemSchema,
  entityItemIdParamsSchema,
  entityItemPageSchema,
  entityItemSchema,
} from "./schemas.js";

export interface EntityItemRoutesDeps {
  db: Database;
  outboxAddress: string;
  /** How long an Idempotency-Key is remembered (IDEMPOTENCY_KEY_TTL_MS). */
  idempotencyKeyTtlMs: number;
}

/** RFC-draft "Idempotency-Key": 1..200 printable ASCII characters. */
const createHeadersSchema = z.object({
  "idempotency-key": z
    .string()
    .regex(/^[\x20-\x7E]{1,200}$/, "must be 1 to 200 printable ASCII characters")
    .optional()
    .meta({
      description:
        "Makes the POST safe to retry: the same key with the same body returns the original response " +
        "(status, body, Location) without creating anything; the same key with another body is refused " +
        "with 422. Keys are remembered for IDEMPOTENCY_KEY_TTL_MS (24 h by default).",
    }),
});

const tags = ["EntityItems"];
const unavailable = {
  description: "The database is unreachable; retry later",
  schema: problemResponseSchema,
};

/** A database outage is the client's cue to retry (503), not a bug of ours (500). */
function unavailableWhenDatabaseIsDown(error: unknown): never {
  if (isTransientConnectionError(error)) {
    throw new HttpProblem(503, "Service Unavailable", "The database is unreachable; retry later");
  }
  throw error;
}

export function registerEntityItemRoutes(host: ServiceHost, deps: EntityItemRoutesDeps): void {
  host.route({
    method: "post",
    path: "/api/EntityItems",
    summary: "Create an entity item (and, in the same transaction, its EntityItemCreated event)",
    tags,
    operationId: "createEntityItem",
    request: { body: createEntityItemSchema, headers: createHeadersSchema },
    responses: {
      201: {
        description: "Created (or, for a retried Idempotency-Key, the original response)",
        schema: entityItemSchema,
        headers: {
          Location: "URL of the new item",
          "Idempotent-Replayed":
            "`true` when this is the stored response of an earlier request with the same key",
        },
      },
      415: { description: "Body is not JSON", schema: problemResponseSchema },
      422: {
        description: "The Idempotency-Key was used with a different body",
        schema: problemResponseSchema,
      },
      503: unavailable,
    },
    handler: async ({ body, req, res }) => {
      const key = req.get("idempotency-key");
      if (key === undefined) {
        const item = await createEntityItem(deps, body).catch(unavailableWhenDatabaseIsDown);
        res.status(201).location(`/api/EntityItems/${item.id}`).json(item);
        return;
      }
      const result = await createEntityItemIdempotently(
        { ...deps, keyTtlMs: deps.idempotencyKeyTtlMs },
        key,
        body,
      ).catch(unavailableWhenDatabaseIsDown);
      if (result.kind === "mismatch") {
        throw new HttpProblem(
          422,
          "Idempotency-Key reused",
          "This Idempotency-Key was already used with a different request body",
        );
      }
      if (result.location !== null) res.location(result.location);
      if (result.kind === "replayed") res.set("Idempotent-Replayed", "true");
      res.status(result.statusCode).json(result.body);
    },
  });

  host.route({
    method: "get",
    path: "/api/EntityItems",
    summary: "List entity items, newest first",
    tags,
    operationId: "listEntityItems",
    request: { query: pageQuerySchema },
    responses: { 200: { description: "One page of items", schema: entityItemPageSchema }, 503: unavailable },
    handler: async ({ query, res }) => {
      res.json(await listEntityItemsPage(deps.db, query).catch(unavailableWhenDatabaseIsDown));
    },
  });

  host.route({
    method: "get",
    path: "/api/EntityItems/:id",
    summary: "Get one entity item",
    tags,
    operationId: "getEntityItem",
    request: { params: entityItemIdParamsSchema },
    responses: {
      200: { description: "The item", schema: entityItemSchema },
      404: { description: "No item with this id", schema: problemResponseSchema },
      503: unavailable,
    },
    handler: async ({ params, res }) => {
      const item = await getEntityItem(deps.db, params.id).catch(unavailableWhenDatabaseIsDown);
      if (item === undefined)
        throw new HttpProblem(404, "Not Found", `EntityItem ${params.id} does not exist`);
      res.json(item);
    },
  });
}
