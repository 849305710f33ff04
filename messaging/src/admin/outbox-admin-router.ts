import type { Router } from "express";
import { expressRouter } from "./express-router.js";
import { outboxAdminRoutes, type OutboxAdminRoutesOptions } from "./outbox-admin-routes.js";

/**
 * The outbox admin routes as an Express router for any Express app: mount it behind the app's own
 * admin authentication (`app.use(requireAdmin, outboxAdminRouter({ outbox, db }))`). A
 * `ServiceHost` registers `outboxAdminRoutes` instead, so that they enter its OpenAPI document.
 */
export function outboxAdminRouter(options: OutboxAdminRoutesOptions): Router {
  return expressRouter(outboxAdminRoutes(options));
}
