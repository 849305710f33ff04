import type { Response } from "express";
import { z } from "zod";

export const PROBLEM_CONTENT_TYPE = "application/problem+json";

/** One field-level validation failure; `path` is dotted ("items.0.name"), "" for the whole value. */
export interface ValidationError {
  path: string;
  message: string;
  /** Where the value came from: "body", "query", "params" or "headers". */
  location?: string;
}

export const validationErrorSchema = z
  .object({
    path: z.string().meta({ description: 'Dotted path of the field ("" = the whole value)' }),
    message: z.string(),
    location: z.enum(["body", "query", "params", "headers"]).optional(),
  })
  .meta({ id: "ValidationError" });

/** RFC 9457 problem details, as every error response of a service carries them. */
export const problemResponseSchema = z
  .object({
    type: z.string().meta({ example: "about:blank" }),
    title: z.string().meta({ example: "Validation failed" }),
    status: z.number().int().meta({ example: 400 }),
    detail: z.string().optional(),
    instance: z.string().optional().meta({ description: "The request path" }),
    errors: z.array(validationErrorSchema).optional(),
  })
  .loose()
  .meta({ id: "Problem", description: "RFC 9457 problem details" });

export type ProblemBody = z.infer<typeof problemResponseSchema>;

/** Throw from a handler to answer with a problem response of the given status. */
export class HttpProblem extends Error {
  override readonly name = "HttpProblem";
  readonly status: number;
  readonly title: string;
  readonly detail: string | undefined;
  readonly extra: Record<string, unknown>;
  /** Response headers sent with the problem (e.g. Retry-After on a 503). */
  readonly headers: Record<string, string>;

  constructor(
    status: number,
    title: string,
    detail?: string,
    extra: Record<string, unknown> = {},
    headers: Record<string, string> = {},
  ) {
    super(detail ?? title);
    this.status = status;
    this.title = title;
    this.detail = detail;
    this.extra = extra;
    this.headers = headers;
  }

  toBody(instance?: string): ProblemBody {
    return problemBody(this.status, this.title, { detail: this.detail, instance, ...this.extra });
  }
}

export function problemBody(
  status: number,
  title: string,
  fields: { detail?: string | undefined; instance?: string | undefined; [key: string]: unknown } = {},
): ProblemBody {
  const body: ProblemBody = { type: "about:blank", title, status };
  for (const [key, value] of Object.entries(fields)) {
    if (value !== undefined) body[key] = value;
  }
  return body;
}

export function sendProblem(res: Response, body: ProblemBody): void {
  res.status(body.status).type(PROBLEM_CONTENT_TYPE).send(JSON.stringify(body));
}

/** Flattens zod issues into `errors` entries with dotted paths. */
export function validationErrors(error: z.ZodError, location?: string): ValidationError[] {
  const entry = (path: PropertyKey[], message: string): ValidationError => {
    const e: ValidationError = { path: path.map(String).join("."), message };
    if (location !== undefined) e.location = location;
    return e;
  };
  return error.issues.flatMap((issue) =>
    // One entry per unknown key, so each points at the offending field rather than its parent.
    issue.code === "unrecognized_keys"
      ? issue.keys.map((key) => entry([...issue.path, key], "Unrecognized key"))
      : [entry(issue.path, issue.message)],
  );
}
