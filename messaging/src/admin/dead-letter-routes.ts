import {
  problemResponseSchema,
  type HttpMethod,
  type RouteResponse,
  type RouteSpec,
} from "@outbox/service-defaults";
import { z } from "zod";
import type { DeadLetter, DeadLetterQueue } from "../transports/artemis/dead-letter-queue.js";
import {
  brokerUnavailableResponse,
  deadLetterIdParams,
  deadLetterLimitParameter,
  expectDeadLetter,
  unavailableWhenBrokerIsDown,
} from "./dead-letter-http.js";

/** What the routes ask of one dead-letter queue (the Artemis transport's `DeadLetterQueue` is one). */
export type DeadLetterOperations = Pick<
  DeadLetterQueue,
  "queue" | "count" | "browse" | "replay" | "replayAll" | "remove"
>;

/**
 * The queues the routes serve: one queue, or one per consumer group picked by `?group=` (an enum of
 * the groups in the document; the responses of list and count then name the group).
 */
export type DeadLetterSource =
  | { queue: DeadLetterOperations }
  | { byGroup: ReadonlyMap<string, DeadLetterOperations>; defaultGroup: string };

export type DeadLetterOperation = "list" | "count" | "replay" | "replayAll" | "delete";

/** The chosen queue of a request: `group` is undefined for a single-queue source. */
export interface DeadLetterTarget {
  group: string | undefined;
  dlq: DeadLetterOperations;
}

export interface DeadLetterRoutesOptions<I> {
  /** e.g. "/api/DeadLetters": list and replay-all at it, count at /count, one letter at /:id. */
  basePath: string;
  source: DeadLetterSource;
  /** The OpenAPI tag, the operation ids and summaries, the page schema's component id. */
  docs: {
    tag: string;
    operationIds: Record<DeadLetterOperation, string>;
    summaries: Record<DeadLetterOperation, string>;
    pageSchemaId: string;
    /** The listing's 200 description and its count's ("Dead letters", "Messages in the …"). */
    listed?: string;
    listedCount?: string;
    /** The 404's description ("No such message in the dead-letter queue" by default). */
    notFound?: string;
    /** The list's 503 description, when it asks more than the broker (e.g. the database too). */
    listUnavailable?: string;
    /** The description of `?group=` (only with `byGroup`). */
    groupParameter?: string;
  };
  /** One listed item per letter, in the same order: the service adds what it knows of them. */
  items: {
    schema: z.ZodType<I>;
    describe: (letters: DeadLetter[], target: DeadLetterTarget) => Promise<I[]>;
  };
  /**
   * Runs before a delete and throws (e.g. an HttpProblem) to refuse it; `conflict` documents its
   * 409. The receiver refuses a delete that would leave an entity's versions with a gap.
   */
  beforeDelete?: {
    check: (id: number, target: DeadLetterTarget) => Promise<void>;
    conflict: RouteResponse;
  };
}

const DEFAULT_NOT_FOUND = "No such message in the dead-letter queue";
const DEFAULT_GROUP_PARAMETER = "Consumer group whose dead-letter queue to use (default: the main group)";

/** The source's consumer groups (the `?group=` enum); undefined for a single queue. */
function groupsOf(source: DeadLetterSource): [string, ...string[]] | undefined {
  if ("queue" in source) return undefined;
  const [first, ...others] = source.byGroup.keys();
  if (first === undefined) throw new Error("deadLetterRoutes needs at least one consumer group");
  if (!source.byGroup.has(source.defaultGroup))
    throw new Error(`deadLetterRoutes: the default group ${source.defaultGroup} has no dead-letter queue`);
  return [first, ...others];
}

/** Types a spec's handler by its own schemas, then lets it join a list of specs of other shapes. */
function route<P extends z.ZodType, Q extends z.ZodType>(spec: RouteSpec<P, Q>): RouteSpec {
  return spec;
}

/**
 * The dead-letter admin routes of one service: browse (oldest first, with what `items.describe`
 * adds), count, replay one or all (the broker moves them back to their original queue), delete
 * one. Framework-neutral specs: `ServiceHost.route` takes them as they are (its admin prefixes,
 * OpenAPI document and 405s cover them), `deadLetterRouter` mounts them on a plain Express app.
 * Authentication is the host's.
 */
export function deadLetterRoutes<I>(options: DeadLetterRoutesOptions<I>): RouteSpec[] {
  const { basePath, source, docs, items, beforeDelete } = options;
  const groups = groupsOf(source);
  const groupQuery = z.object(
    groups === undefined
      ? {}
      : {
          group: z
            .enum(groups)
            .optional()
            .meta({ description: docs.groupParameter ?? DEFAULT_GROUP_PARAMETER }),
        },
  );
  const limitQuery = groupQuery.extend({ limit: deadLetterLimitParameter });
  const groupField = groups === undefined ? {} : { group: z.string() };
  // The query's enum has let through only groups that have a queue.
  const pick = (query: object | undefined): DeadLetterTarget => {
    if ("queue" in source) return { group: undefined, dlq: source.queue };
    const asked = query !== undefined && "group" in query ? query.group : undefined;
    const group = typeof asked === "string" ? asked : source.defaultGroup;
    const dlq = source.byGroup.get(group);
    if (dlq === undefined) throw new Error(`no dead-letter queue for consumer group ${group}`);
    return { group, dlq };
  };
  const named = (target: DeadLetterTarget): { group?: string } =>
    target.group === undefined ? {} : { group: target.group };
  const notFound = { description: docs.notFound ?? DEFAULT_NOT_FOUND, schema: problemResponseSchema };
  const listUnavailable =
    docs.listUnavailable === undefined
      ? brokerUnavailableResponse
      : { ...brokerUnavailableResponse, description: docs.listUnavailable };
  const pageSchema = z
    .object({
      ...groupField,
      queue: z.string(),
      count: z
        .number()
        .int()
        .meta({ description: docs.listedCount ?? "Messages in the dead-letter queue (may exceed items)" }),
      items: z.array(items.schema),
    })
    .meta({ id: docs.pageSchemaId });
  const deleteResponses: Record<number, RouteResponse> = { 204: { description: "Deleted" }, 404: notFound };
  if (beforeDelete !== undefined) deleteResponses[409] = beforeDelete.conflict;
  deleteResponses[503] = brokerUnavailableResponse;
  const described = (operation: DeadLetterOperation, method: HttpMethod, path: string) => ({
    method,
    path,
    operationId: docs.operationIds[operation],
    summary: docs.summaries[operation],
    tags: [docs.tag],
  });
  // A single queue's routes take no query: declaring an empty one would document a 400 they never answer.
  const groupRequest = groups === undefined ? {} : { query: groupQuery };

  return [
    route({
      ...described("list", "get", basePath),
      request: { query: limitQuery },
      responses: {
        200: { description: docs.listed ?? "Dead letters", schema: pageSchema },
        503: listUnavailable,
      },
      handler: async ({ query, res }) => {
        const target = pick(query);
        const [count, letters] = await Promise.all([
          target.dlq.count(),
          target.dlq.browse(query.limit),
        ]).catch(unavailableWhenBrokerIsDown);
        res.json({
          ...named(target),
          queue: target.dlq.queue,
          count,
          items: await items.describe(letters, target),
        });
      },
    }),
    route({
      ...described("count", "get", `${basePath}/count`),
      request: groupRequest,
      responses: {
        200: {
          description: "The count",
          schema: z.object({ ...groupField, queue: z.string(), count: z.number().int() }),
        },
        503: brokerUnavailableResponse,
      },
      handler: async ({ query, res }) => {
        const target = pick(query);
        const count = await target.dlq.count().catch(unavailableWhenBrokerIsDown);
        res.json({ ...named(target), queue: target.dlq.queue, count });
      },
    }),
    route({
      ...described("replay", "post", `${basePath}/:id/replay`),
      request: { params: deadLetterIdParams, ...groupRequest },
      responses: { 204: { description: "Replayed" }, 404: notFound, 503: brokerUnavailableResponse },
      handler: async ({ params, query, res }) => {
        const { dlq } = pick(query);
        expectDeadLetter(
          await dlq.replay(params.id).catch(unavailableWhenBrokerIsDown),
          params.id,
          dlq.queue,
        );
        res.status(204).end();
      },
    }),
    route({
      ...described("replayAll", "post", `${basePath}/replay`),
      request: groupRequest,
      responses: {
        200: { description: "How many were replayed", schema: z.object({ replayed: z.number().int() }) },
        503: brokerUnavailableResponse,
      },
      handler: async ({ query, res }) => {
        const { dlq } = pick(query);
        res.json({ replayed: await dlq.replayAll().catch(unavailableWhenBrokerIsDown) });
      },
    }),
    route({
      ...described("delete", "delete", `${basePath}/:id`),
      request: { params: deadLetterIdParams, ...groupRequest },
      responses: deleteResponses,
      handler: async ({ params, query, res }) => {
        const target = pick(query);
        await beforeDelete?.check(params.id, target);
        const { dlq } = target;
        expectDeadLetter(
          await dlq.remove(params.id).catch(unavailableWhenBrokerIsDown),
          params.id,
          dlq.queue,
        );
        res.status(204).end();
      },
    }),
  ];
}
