import type { Router } from "express";
import { deadLetterRoutes, type DeadLetterRoutesOptions } from "./dead-letter-routes.js";
import { expressRouter } from "./express-router.js";

/**
 * The dead-letter admin routes as an Express router for any Express app: mount it behind the
 * app's own admin authentication (`app.use(requireAdmin, deadLetterRouter({...}))`). A
 * `ServiceHost` registers `deadLetterRoutes` instead, so that they enter its OpenAPI document.
 */
export function deadLetterRouter<I>(options: DeadLetterRoutesOptions<I>): Router {
  return expressRouter(deadLetterRoutes(options));
}
