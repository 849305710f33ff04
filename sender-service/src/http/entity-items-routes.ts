import {
  databaseUnavailableResponse,
  HttpProblem,
  pageQuerySchema,
  problemResponseSchema,
  rethrowAsUnavailable,
  type ServiceHost,
} from "@outbox/service-defaults";
import type { Response } from "express";
import { z } from "zod";
import type { Database } from "../data/db.js";
import { createEntityItem } from "../domain/create-entity-item.js";
import { etagOf } from "../domain/entity-item.js";
import { createEntityItemIdempotently } from "../domain/idempotent-create.js";
import { getEntityItem, listEntityItemsPage } from "../domain/entity-item-queries.js";
import type { IdempotentOutcome, StoredReply } from "../domain/idempotent-request.js";
import { updateEntityItem, updateEntityItemIdempotently } from "../domain/update-entity-item-request.js";
import {
  createEntityItemSchema,
  entityItemIdParamsSchema,
  entityItemPageSchema,
  entityItemSchema,
  updateEntityItemSchema,
} from "./schemas.js";

export interface EntityItemRoutesDeps {
  db: Database;
  outboxAddress: string;
  /** How long an Idempotency-Key is remembered (IDEMPOTENCY_KEY_TTL_MS). */
  idempotencyKeyTtlMs: number;
}

/** RFC-draft "Idempotency-Key": 1..200 printable ASCII characters. */
const idempotencyKeySchema = z
  .string()
  .regex(/^[\x20-\x7E]{1,200}$/, "must be 1 to 200 printable ASCII characters")
  .optional()
  .meta({
    description:
      "Makes the request safe to retry: the same key with the same request returns the original response " +
      "(status, body byte for byte, Location/ETag) without doing anything again; the same key with another " +
      "request is refused with 422. Keys are remembered for IDEMPOTENCY_KEY_TTL_MS (24 h by default).",
  });

const createHeadersSchema = z.object({ "idempotency-key": idempotencyKeySchema });

const updateHeadersSchema = z.object({
  "idempotency-key": idempotencyKeySchema,
  "if-match": z
    .string()
    .regex(/^(W\/)?"[1-9][0-9]{0,8}"$/, 'must be the ETag of a version, e.g. "3"')
    // Optional for validation so that a missing one is answered 428 Precondition Required (RFC 6585),
    // not 400; the document says it is required.
    .optional()
    .openapi({
      param: { required: true },
      description:
        "The ETag (version) the change is based on. The update applies only if the item is still at " +
        "that version (optimistic concurrency); otherwise 412. Without it: 428.",
    }),
});

const tags = ["EntityItems"];
const unavailable = databaseUnavailableResponse;
const keyReused = {
  description: "The Idempotency-Key was used with a different request",
  schema: problemResponseSchema,
};

/** Sends a reply exactly as stored: the same bytes for the first answer and every replay. */
function sendReply(res: Response, reply: StoredReply, replayed: boolean): void {
  if (reply.location !== null) res.location(reply.location);
  if (reply.etag !== null) res.set("ETag", reply.etag);
  if (replayed) res.set("Idempotent-Replayed", "true");
  res.status(reply.statusCode).type("application/json").send(Buffer.from(reply.bodyText, "utf8"));
}

function refuseMismatch(): never {
  throw new HttpProblem(
    422,
    "Idempotency-Key reused",
    "This Idempotency-Key was already used with a different request",
  );
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
          "Idempotent-Replayed": {
            description: "`true` when this is the stored response of an earlier request with the same key",
            optional: true,
          },
        },
      },
      415: { description: "Body is not JSON", schema: problemResponseSchema },
      422: keyReused,
      503: unavailable,
    },
    handler: async ({ body, req, res }) => {
      const key = req.get("idempotency-key");
      if (key === undefined) {
        const item = await createEntityItem(deps, body).catch(rethrowAsUnavailable);
        res.status(201).location(`/api/EntityItems/${item.id}`).json(item);
        return;
      }
      const result: IdempotentOutcome<never> = await createEntityItemIdempotently(
        { ...deps, keyTtlMs: deps.idempotencyKeyTtlMs },
        key,
        body,
      ).catch(rethrowAsUnavailable);
      if (result.kind === "mismatch") refuseMismatch();
      if (result.kind === "refused") throw new Error("create never refuses");
      sendReply(res, result.reply, result.kind === "replayed");
    },
  });

  host.route({
    method: "put",
    path: "/api/EntityItems/:id",
    summary:
      "Replace an item's name and description (If-Match: its version) and, in the same transaction, record EntityItemUpdated",
    tags,
    operationId: "updateEntityItem",
    request: { params: entityItemIdParamsSchema, body: updateEntityItemSchema, headers: updateHeadersSchema },
    responses: {
      200: {
        description: "Updated (or, for a retried Idempotency-Key, the original response)",
        schema: entityItemSchema,
        headers: {
          ETag: "The new version",
          "Idempotent-Replayed": {
            description: "`true` when this is the stored response of an earlier request with the same key",
            optional: true,
          },
        },
      },
      404: { description: "No item with this id", schema: problemResponseSchema },
      412: {
        description: "The item is no longer at the If-Match version (someone else changed it)",
        schema: problemResponseSchema,
      },
      415: { description: "Body is not JSON", schema: problemResponseSchema },
      422: keyReused,
      428: { description: "If-Match is missing", schema: problemResponseSchema },
      503: unavailable,
    },
    handler: async ({ params, body, req, res }) => {
      const ifMatch = req.get("if-match");
      if (ifMatch === undefined) {
        throw new HttpProblem(
          428,
          "Precondition Required",
          "Send If-Match with the item's ETag (its version): updates use optimistic concurrency",
        );
      }
      const expectedVersion = Number(/"(\d+)"/.exec(ifMatch)?.[1]);
      const key = req.get("idempotency-key");
      const request = { id: params.id, expectedVersion, input: body };
      const result =
        key === undefined
          ? await updateEntityItem(deps, request).catch(rethrowAsUnavailable)
          : await updateEntityItemIdempotently(
              { ...deps, keyTtlMs: deps.idempotencyKeyTtlMs },
              key,
              request,
            ).catch(rethrowAsUnavailable);
      switch (result.kind) {
        case "mismatch":
          refuseMismatch();
        // eslint-disable-next-line no-fallthrough -- refuseMismatch never returns
        case "refused":
          if (result.value.kind === "not-found")
            throw new HttpProblem(404, "Not Found", `EntityItem ${params.id} does not exist`);
          throw new HttpProblem(
            412,
            "Precondition Failed",
            `EntityItem ${params.id} is at version ${result.value.currentVersion}, not ${expectedVersion}`,
          );
        case "fresh":
        case "replayed":
          sendReply(res, result.reply, result.kind === "replayed");
      }
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
      res.json(await listEntityItemsPage(deps.db, query).catch(rethrowAsUnavailable));
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
      200: { description: "The item", schema: entityItemSchema, headers: { ETag: "Its version" } },
      404: { description: "No item with this id", schema: problemResponseSchema },
      503: unavailable,
    },
    handler: async ({ params, res }) => {
      const item = await getEntityItem(deps.db, params.id).catch(rethrowAsUnavailable);
      if (item === undefined)
        throw new HttpProblem(404, "Not Found", `EntityItem ${params.id} does not exist`);
      res.set("ETag", etagOf(item.version)).json(item);
    },
  });
}
