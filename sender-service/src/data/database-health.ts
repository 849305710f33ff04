import type { HealthCheck } from "@outbox/service-defaults";
import type pg from "pg";
import { pingDatabase } from "./db.js";

/** Unhealthy when PostgreSQL does not answer `SELECT 1` in time: without it the API cannot work. */
export function databaseHealthCheck(pool: pg.Pool, timeoutMs = 1_500): HealthCheck {
  return async () => {
    try {
      await pingDatabase(pool, timeoutMs);
      return {
        status: "healthy",
        data: {
          totalConnections: pool.totalCount,
          idleConnections: pool.idleCount,
          waiting: pool.waitingCount,
        },
      };
    } catch (error) {
      return {
        status: "unhealthy",
        detail: `database unreachable: ${error instanceof Error ? error.message : String(error)}`,
      };
    }
  };
}
