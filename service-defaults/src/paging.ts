// Paging lives in @outbox/messaging (its outbox admin routes page); the services use it from here too.
export {
  MAX_PAGE,
  MAX_PAGE_SIZE,
  pageQuerySchema,
  pageResponseSchema,
  pageToOffset,
  type PageQuery,
} from "@outbox/messaging";
