import { createOutbox } from "@outbox/messaging";

/**
 * The sender's outbox: @outbox/messaging's tables with their default names (schema public, no
 * prefix), which are exactly the tables the sender's drizzle migrations 0000–0006 created.
 */
export const outbox = createOutbox();
