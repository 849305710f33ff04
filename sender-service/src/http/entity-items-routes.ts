import {
  HttpProblem,
  pageQuerySchema,
  problemResponseSchema,
  type ServiceHost,
} from "@outbox/service-defaults";
import { isTransientConnectionError } from "../data/connection-errors.js";
import type { Database } from "../data/db.js";
import { createEntityItem } from "../domain/create-entity-item.js";
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
}

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
    request: { body: createEntityItemSchema },
    responses: {
      201: { description: "Created", schema: entityItemSchema, headers: { Location: "URL of the new item" } },
      415: { description: "Body is not JSON", schema: problemResponseSchema },
      503: unavailable,
    },
    handler: async ({ body, res }) => {
      const item = await createEntityItem(deps, body).catch(unavailableWhenDatabaseIsDown);
      res.status(201).location(`/api/EntityItems/${item.id}`).json(item);
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
