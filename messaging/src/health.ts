/**
 * Health checks as the library reports them (relay, consumer, broker connection): a host runs them
 * on its readiness endpoint. The worst status of all checks is the host's.
 */
export type HealthStatus = "healthy" | "degraded" | "unhealthy";
export type HealthCheckResult = { status: HealthStatus; detail?: string; data?: Record<string, unknown> };
export type HealthCheck = () => Promise<HealthCheckResult> | HealthCheckResult;
