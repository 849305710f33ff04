import { describe, expect, it } from "vitest";
import { z } from "zod";
import { runHealthChecks, type HealthCheck } from "./health.js";
import { redactUrl } from "./logging.js";
import { pageQuerySchema, pageResponseSchema, pageToOffset } from "./paging.js";
import { HttpProblem, validationErrors } from "./problem.js";

describe("redactUrl", () => {
  it("hides the password of connection strings", () => {
    expect(redactUrl("postgresql://user:s3cret@127.0.0.1:5432/db")).toBe(
      "postgresql://user:***@127.0.0.1:5432/db",
    );
    expect(redactUrl("amqp://127.0.0.1:5672")).toBe("amqp://127.0.0.1:5672");
    expect(redactUrl("weird //user:pw@host")).not.toContain("pw");
  });
});

describe("paging", () => {
  it("coerces query strings and applies defaults and bounds", () => {
    expect(pageQuerySchema.parse({})).toEqual({ page: 1, pageSize: 50 });
    expect(pageQuerySchema.parse({ page: "3", pageSize: "20" })).toEqual({ page: 3, pageSize: 20 });
    expect(pageQuerySchema.safeParse({ pageSize: "201" }).success).toBe(false);
    expect(pageQuerySchema.safeParse({ page: "0" }).success).toBe(false);
    expect(pageToOffset({ page: 3, pageSize: 20 })).toEqual({ offset: 40, limit: 20 });
  });

  it("wraps an item schema", () => {
    const schema = pageResponseSchema(z.object({ id: z.string() }));
    expect(schema.parse({ items: [{ id: "a" }], page: 1, pageSize: 50, total: 1 }).items).toHaveLength(1);
  });
});

describe("problems", () => {
  it("builds an RFC 9457 body with extras", () => {
    const problem = new HttpProblem(409, "Conflict", "already exists", { entityId: "x" });
    expect(problem.toBody("/a")).toEqual({
      type: "about:blank",
      title: "Conflict",
      status: 409,
      detail: "already exists",
      instance: "/a",
      entityId: "x",
    });
  });

  it("flattens zod issues into dotted paths, one per unknown key", () => {
    const schema = z.strictObject({ items: z.array(z.object({ name: z.string() })) });
    const result = schema.safeParse({ items: [{ name: 1 }], extra: true, more: 1 });
    expect(result.success).toBe(false);
    const errors = validationErrors(result.error!, "body").map((e) => e.path);
    expect(errors).toEqual(["items.0.name", "extra", "more"]);
  });
});

describe("runHealthChecks", () => {
  it("reports the worst status, timeouts and throws as unhealthy", async () => {
    const checks = new Map<string, HealthCheck>([
      ["ok", () => ({ status: "healthy" })],
      ["slow", () => new Promise(() => undefined)],
      ["throws", () => Promise.reject(new Error("db down"))],
    ]);
    const report = await runHealthChecks(checks, 50);
    expect(report.status).toBe("unhealthy");
    expect(report.checks.slow).toMatchObject({ status: "unhealthy", detail: "timed out after 50 ms" });
    expect(report.checks.throws).toMatchObject({ status: "unhealthy", detail: "db down" });
    expect(report.checks.ok?.status).toBe("healthy");
  });

  it("is degraded when nothing is unhealthy but something is degraded", async () => {
    const report = await runHealthChecks(
      new Map<string, HealthCheck>([
        ["a", () => ({ status: "healthy" })],
        ["b", () => ({ status: "degraded", detail: "lagging" })],
      ]),
      100,
    );
    expect(report.status).toBe("degraded");
    expect((await runHealthChecks(new Map(), 100)).status).toBe("healthy");
  });
});
