import { z } from "zod";

/** Whole numbers written the plain way ("12", "-3"): no "1e3", "0x10", " 12", "" or "12.0". */
const WHOLE_NUMBER = /^-?(0|[1-9][0-9]{0,15})$/;

export interface IntegerParameterOptions {
  min: number;
  max: number;
  default?: number;
  description?: string;
}

/**
 * An integer in a path or query string. `z.coerce.number()` accepts "", "0x10", "1e3" and " 7 "
 * (and its document then claims `null` is allowed), so the text is checked first and the document
 * states exactly what is accepted: an integer between `min` and `max`.
 */
export function integerParameter(options: IntegerParameterOptions) {
  const { min, max, description } = options;
  const parsed = z
    .string()
    .regex(WHOLE_NUMBER, "must be a whole number")
    .transform(Number)
    .pipe(z.number().int().min(min).max(max));
  const documented = {
    type: "integer" as const,
    minimum: min,
    maximum: max,
    ...(options.default !== undefined ? { default: options.default } : {}),
    ...(description !== undefined ? { description } : {}),
  };
  return options.default === undefined
    ? parsed.meta(documented)
    : parsed.optional().default(options.default).meta(documented);
}
