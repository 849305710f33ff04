import type { HealthCheck, HealthCheckResult, HealthStatus } from "@outbox/messaging";
import { z } from "zod";

// The check types are @outbox/messaging's: its relay, consumer and transport report through them.
export type { HealthCheck, HealthCheckResult, HealthStatus };

export interface HealthEntry extends HealthCheckResult {
  durationMs: number;
}
export interface HealthReport {
  status: HealthStatus;
  checks: Record<string, HealthEntry>;
}

const statusSchema = z.enum(["healthy", "degraded", "unhealthy"]);
export const healthReportSchema = z
  .object({
    status: statusSchema,
    checks: z.record(
      z.string(),
      z.object({
        status: statusSchema,
        detail: z.string().optional(),
        data: z.record(z.string(), z.unknown()).optional(),
        durationMs: z.number(),
      }),
    ),
  })
  .meta({ id: "HealthReport" });

export const aliveSchema = z.object({ status: z.literal("alive") }).meta({ id: "Alive" });

/**
 * Runs every check at once, each bounded by `timeoutMs` (a hung dependency must not hang the
 * orchestrator's probe). A throw or a timeout counts as unhealthy; the worst status wins.
 */
export async function runHealthChecks(
  checks: ReadonlyMap<string, HealthCheck>,
  timeoutMs: number,
): Promise<HealthReport> {
  const entries = await Promise.all(
    [...checks].map(async ([name, check]): Promise<[string, HealthEntry]> => {
      const started = performance.now();
      const result = await runOne(check, timeoutMs);
      return [name, { ...result, durationMs: Math.round((performance.now() - started) * 10) / 10 }];
    }),
  );
  const statuses = entries.map(([, e]) => e.status);
  const status: HealthStatus = statuses.includes("unhealthy")
    ? "unhealthy"
    : statuses.includes("degraded")
      ? "degraded"
      : "healthy";
  return { status, checks: Object.fromEntries(entries) };
}

async function runOne(check: HealthCheck, timeoutMs: number): Promise<HealthCheckResult> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<HealthCheckResult>((resolve) => {
    timer = setTimeout(
      () => resolve({ status: "unhealthy", detail: `timed out after ${timeoutMs} ms` }),
      timeoutMs,
    );
  });
  try {
    return await Promise.race([Promise.resolve().then(check), timeout]);
  } catch (error) {
    return { status: "unhealthy", detail: error instanceof Error ? error.message : String(error) };
  } finally {
    clearTimeout(timer);
  }
}
