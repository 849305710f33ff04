import express, { type NextFunction, type Request, type Response, type Router } from "express";
import type { z } from "zod";
import { HttpProblem, sendProblem, validationErrors, type ValidationError } from "../http/problem.js";
import type { RouteSpec } from "../http/route-spec.js";

/**
 * Route specs (bodiless admin routes) as a plain Express router, for a host that is not a
 * `ServiceHost`: params and query are validated with the specs' zod schemas (400 with the field
 * errors), and the problems the handlers throw are answered as RFC 9457 problem details. Other
 * errors go on to the host's error middleware. Mount it behind the host's own authentication.
 */
export function expressRouter(routes: readonly RouteSpec[]): Router {
  const router = express.Router();
  for (const spec of routes) {
    if (spec.request?.body !== undefined)
      throw new Error(`${spec.method.toUpperCase()} ${spec.path}: request bodies are not supported here`);
    router[spec.method](spec.path, async (req: Request, res: Response) => {
      const errors: ValidationError[] = [];
      const check = (
        location: "params" | "query",
        schema: z.ZodType | undefined,
        value: unknown,
      ): unknown => {
        if (schema === undefined) return value;
        const result = schema.safeParse(value);
        if (result.success) return result.data;
        errors.push(...validationErrors(result.error, location));
        return undefined;
      };
      const params = check("params", spec.request?.params, req.params);
      const query = check("query", spec.request?.query, req.query);
      if (errors.length > 0)
        throw new HttpProblem(400, "Validation failed", "One or more fields are invalid", { errors });
      await spec.handler({ params, query, body: undefined, req, res });
    });
  }
  router.use((error: unknown, req: Request, res: Response, next: NextFunction) => {
    if (!(error instanceof HttpProblem) || res.headersSent) return next(error);
    res.set(error.headers);
    sendProblem(res, error.toBody(req.originalUrl.split("?")[0]));
  });
  return router;
}
