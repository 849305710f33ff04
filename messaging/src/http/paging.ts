import { z } from "zod";
import { integerParameter } from "./integer-parameter.js";

/** Most items a page holds. */
export const MAX_PAGE_SIZE = 200;

/**
 * Deepest page a list serves. OFFSET makes PostgreSQL read and drop every row before the page, so
 * `page` up to a million at 200 a page let one request scan 200 million rows: at most
 * MAX_PAGE × MAX_PAGE_SIZE = 100,000 rows are skipped now (a few milliseconds), and the pools'
 * statement_timeout (PG_STATEMENT_TIMEOUT_MS) bounds whatever a list still costs. Per-field bounds,
 * so that the OpenAPI document states the rule exactly.
 */
export const MAX_PAGE = 500;

/** `?page=&pageSize=` for list endpoints. */
export const pageQuerySchema = z.object({
  page: integerParameter({
    min: 1,
    max: MAX_PAGE,
    default: 1,
    description: `1-based page number (at most ${MAX_PAGE})`,
  }),
  pageSize: integerParameter({
    min: 1,
    max: MAX_PAGE_SIZE,
    default: 50,
    description: `Items per page (max ${MAX_PAGE_SIZE})`,
  }),
});

export type PageQuery = z.infer<typeof pageQuerySchema>;

/** `{ items, page, pageSize, total }` around the given item schema. */
export function pageResponseSchema<T extends z.ZodType>(item: T) {
  return z.object({
    items: z.array(item),
    page: z.number().int().min(1),
    pageSize: z.number().int().min(1),
    total: z.number().int().min(0).meta({ description: "Number of items across all pages" }),
  });
}

/** SQL OFFSET/LIMIT for a page. */
export function pageToOffset(query: PageQuery): { offset: number; limit: number } {
  return { offset: (query.page - 1) * query.pageSize, limit: query.pageSize };
}
