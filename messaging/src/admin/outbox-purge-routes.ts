import { z } from "zod";
import { integerParameter } from "../http/integer-parameter.js";
import type { RouteResponse, RouteSpec } from "../http/route-spec.js";
import type { Outbox } from "../outbox/create-outbox.js";
import type { TransactionalSqlDb } from "../outbox/sql-db.js";

/** A century: further back than any row can be, and still a timestamp PostgreSQL can compute. */
const MAX_OLDER_THAN_MS = 100 * 365 * 24 * 60 * 60 * 1000;

const purgeQuery = z.object({
  olderThanMs: integerParameter({
    min: 0,
    max: MAX_OLDER_THAN_MS,
    default: 0,
    description:
      "Only rows finished at least this long ago (default 0: all finished rows; at most a century)",
  }),
});

const purgeResult = z.object({
  deleted: z.number().int(),
  lockedOut: z.boolean().meta({ description: "Another instance was purging; run again later" }),
});

/**
 * Operator action: purge published and delivered outbox rows now instead of waiting for the
 * retention job (same batches, same advisory lock; pending and dead rows are never touched).
 */
export function outboxPurgeRoute(deps: {
  outbox: Outbox;
  db: TransactionalSqlDb;
  basePath: string;
  tags: string[];
  unavailable: RouteResponse;
  rethrowAsUnavailable: (error: unknown) => never;
}): RouteSpec {
  const spec: RouteSpec<z.ZodType, typeof purgeQuery> = {
    method: "post",
    path: `${deps.basePath}/published/purge`,
    summary: "Delete published and delivered outbox rows now (pending and dead rows stay)",
    tags: deps.tags,
    operationId: "purgePublishedOutboxMessages",
    request: { query: purgeQuery },
    responses: {
      200: { description: "How many rows were deleted", schema: purgeResult },
      503: deps.unavailable,
    },
    handler: async ({ query, res }) => {
      const result = await deps.outbox
        .purgeFinished(deps.db, {
          olderThanMs: query.olderThanMs,
          batchSize: 1000,
          maxBatches: 1000,
        })
        .catch(deps.rethrowAsUnavailable);
      res.json(result);
    },
  };
  return spec;
}
