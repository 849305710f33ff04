import { z } from "zod";
import { integerParameter } from "./parameters.js";

/** Deepest page a list serves: OFFSET stays within what PostgreSQL pages through sensibly. */
export const MAX_PAGE = 1_000_000;

/** `?page=&pageSize=` for list endpoints. */
export const pageQuerySchema = z.object({
  page: integerParameter({
    min: 1,
    max: MAX_PAGE,
    default: 1,
    description: `1-based page number (at most ${MAX_PAGE})`,
  }),
  pageSize: integerParameter({ min: 1, max: 200, default: 50, description: "Items per page (max 200)" }),
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
