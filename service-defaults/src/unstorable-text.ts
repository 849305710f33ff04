import type { ValidationError } from "./problem.js";

/**
 * Text PostgreSQL cannot store faithfully: U+0000 (refused by `text` and `jsonb`, so the request
 * would fail with a 500 at the database) and lone UTF-16 surrogates (no UTF-8 form; they would be
 * silently replaced). Found anywhere in a request value, it is refused up front with a 400.
 */
// eslint-disable-next-line no-control-regex -- U+0000 is exactly what this looks for
const UNSTORABLE = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

export function unstorableTextErrors(
  value: unknown,
  location: string,
  path: string[] = [],
): ValidationError[] {
  if (typeof value === "string") {
    return UNSTORABLE.test(value)
      ? [
          {
            path: path.join("."),
            location,
            message: "contains U+0000 or an unpaired surrogate, which cannot be stored",
          },
        ]
      : [];
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
