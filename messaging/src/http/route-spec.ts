import type { Request, Response } from "express";
import type { z } from "zod";

// A route as data: method, path, zod schemas for its input, documented responses and a handler.
// The library's admin routes are written this way so that any host can take them: service-defaults'
// ServiceHost registers them (validation, OpenAPI document), expressRouter mounts them on plain Express.

export type HttpMethod = "get" | "post" | "put" | "patch" | "delete";

export interface RouteResponse {
  description: string;
  schema?: z.ZodType;
  /**
   * Response header name -> description, for the OpenAPI document: a header named here is sent on
   * every such response, unless it is given as `{ description, optional: true }`.
   */
  headers?: Record<string, string | { description: string; optional: true }>;
}

export interface RouteInput<P extends z.ZodType, Q extends z.ZodType, B extends z.ZodType> {
  params: z.infer<P>;
  query: z.infer<Q>;
  body: z.infer<B>;
  req: Request;
  res: Response;
}

export interface RouteSpec<
  P extends z.ZodType = z.ZodType,
  Q extends z.ZodType = z.ZodType,
  B extends z.ZodType = z.ZodType,
> {
  method: HttpMethod;
  /** Express style, e.g. "/api/EntityItems/:id" (documented as "/api/EntityItems/{id}"). */
  path: string;
  summary: string;
  description?: string;
  tags?: string[];
  operationId?: string;
  /** Validated before the handler runs. Header keys must be lower case (as Node delivers them). */
  request?: { params?: P; query?: Q; body?: B; headers?: z.ZodObject };
  responses: Record<number, RouteResponse>;
  handler: (input: RouteInput<P, Q, B>) => Promise<void> | void;
}
