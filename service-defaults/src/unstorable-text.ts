import type { ValidationError } from "@outbox/messaging";
import { isCarriableText, UNCARRIABLE_TEXT_MESSAGE } from "./text-limits.js";

/**
 * Deepest nesting of arrays and objects a request value may have. The services' bodies are a level
 * or two deep; a 64 KB body of `[[[[…` is 32,000 levels, which a recursive walk turned into a stack
 * overflow (500) after a fifth of a second of CPU.
 */
export const MAX_NESTING_DEPTH = 32;

/** The walk stops after this many findings: one body cannot make a response of thousands. */
const MAX_FINDINGS = 20;

export const TOO_DEEP_MESSAGE = `must not nest arrays and objects more than ${MAX_NESTING_DEPTH} levels deep`;

/**
 * Text that cannot be carried (see text-limits.ts: U+0000, unpaired surrogates), found anywhere in
 * a request value, and values nested deeper than MAX_NESTING_DEPTH: refused up front with a 400
 * naming the field, not a 500 at the database or a stack overflow. Iterative, and it never
 * descends past the depth limit, so its cost is bounded by the size of the value.
 */
export function unstorableTextErrors(
  value: unknown,
  location: string,
  path: string[] = [],
): ValidationError[] {
  const errors: ValidationError[] = [];
  // Last in, first out: children are pushed in reverse so findings come in document order.
  const pending: Array<{ value: unknown; path: string[]; depth: number }> = [{ value, path, depth: 0 }];
  while (pending.length > 0 && errors.length < MAX_FINDINGS) {
    const next = pending.pop();
    if (next === undefined) break;
    const { value: current, path: at, depth } = next;
    if (typeof current === "string") {
      if (!isCarriableText(current))
        errors.push({ path: at.join("."), location, message: UNCARRIABLE_TEXT_MESSAGE });
      continue;
    }
    if (typeof current !== "object" || current === null) continue;
    if (depth >= MAX_NESTING_DEPTH) {
      errors.push({ path: at.join("."), location, message: TOO_DEEP_MESSAGE });
      continue;
    }
    if (Array.isArray(current)) {
      for (let i = current.length - 1; i >= 0; i--)
        pending.push({ value: current[i], path: [...at, String(i)], depth: depth + 1 });
      continue;
    }
    const entries = Object.entries(current);
    for (let i = entries.length - 1; i >= 0; i--) {
      const [key, child] = entries[i] as [string, unknown];
      pending.push({ value: child, path: [...at, key], depth: depth + 1 });
      pending.push({ value: key, path: [...at, "(key)"], depth: depth + 1 });
    }
  }
  return errors;
}
