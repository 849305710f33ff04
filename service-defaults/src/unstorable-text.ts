import type { ValidationError } from "./problem.js";
import { isCarriableText, UNCARRIABLE_TEXT_MESSAGE } from "./text-limits.js";

/**
 * Text that cannot be carried (see text-limits.ts: U+0000, unpaired surrogates), found anywhere in
 * a request value: refused up front with a 400 naming the field, not a 500 at the database.
 */
export function unstorableTextErrors(
  value: unknown,
  location: string,
  path: string[] = [],
): ValidationError[] {
  if (typeof value === "string") {
    return isCarriableText(value)
      ? []
      : [{ path: path.join("."), location, message: UNCARRIABLE_TEXT_MESSAGE }];
  }
  if (Array.isArray(value))
    return value.flatMap((v, i) => unstorableTextErrors(v, location, [...path, String(i)]));
  if (typeof value === "object" && value !== null) {
    return Object.entries(value).flatMap(([key, v]) => [
      ...unstorableTextErrors(key, location, [...path, "(key)"]),
      ...unstorableTextErrors(v, location, [...path, key]),
    ]);
  }
  return [];
}
