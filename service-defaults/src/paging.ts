import { z } from "zod";

/** `?page=&pageSize=` for list endpoints; query strings arrive as text, hence coerce. */
export const pageQuerySchema = z.object({
  page: z.coerce.number().int().min(1).default(1).meta({ description: "1-based page number" }),
  pageSize: z.coerce
    .number()
    .int()
    .min(1)
    .max(200)
    .default(50)
    .meta({ description: "Items per page (max 200)" }),
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
