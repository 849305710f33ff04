import { z } from "zod";

// What String.prototype.trim() removes (ECMAScript WhiteSpace and LineTerminator). Written as the
// characters themselves in the documented pattern: every regex dialect a client may use
// (ECMAScript, Python, Rust) reads a literal character the same way, but not the same escapes.
const TRIMMED = `\\t\\n\\v\\f\\r \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff`;

/** Any text without U+0000 (which PostgreSQL refuses; the host answers 400 for it). */
export const STORABLE_TEXT_PATTERN = "^[^\\x00]*$";
/** Storable text with at least one character that trimming keeps. */
export const NON_BLANK_TEXT_PATTERN = `^[^\\x00]*[^\\x00${TRIMMED}][^\\x00]*$`;

export interface TextFieldOptions {
  /** In characters (Unicode code points, as JSON Schema counts them); default 0. */
  minLength?: number;
  /** In characters (Unicode code points, as JSON Schema counts them), before trimming. */
  maxLength: number;
  /** Refuse text that is empty once trimmed, and pass it on trimmed. */
  nonBlank?: boolean;
  description?: string;
}

const codePoints = (text: string): number => {
  let count = 0;
  for (const _ of text) count += 1;
  return count;
};

/**
 * A text field whose document and validation agree: lengths counted in code points (JSON Schema's
 * unit; `z.string().max()` counts UTF-16 units, so 150 emoji would be refused as 300), measured
 * before trimming, and a pattern that says U+0000 is refused and, for `nonBlank`, that some
 * character must survive the trim.
 */
export function textField(options: TextFieldOptions) {
  const { maxLength, nonBlank = false, description } = options;
  const minLength = Math.max(options.minLength ?? 0, nonBlank ? 1 : 0);
  const checked = z.string().check((ctx) => {
    const length = codePoints(ctx.value);
    if (length > maxLength)
      ctx.issues.push({
        code: "custom",
        message: `must be at most ${maxLength} characters`,
        input: ctx.value,
      });
    if (length < minLength)
      ctx.issues.push({
        code: "custom",
        message: `must be at least ${minLength} characters`,
        input: ctx.value,
      });
    if (nonBlank && ctx.value.trim() === "")
      ctx.issues.push({ code: "custom", message: "must not be empty or only spaces", input: ctx.value });
  });
  const documented = {
    ...(minLength > 0 ? { minLength } : {}),
    maxLength,
    pattern: nonBlank ? NON_BLANK_TEXT_PATTERN : STORABLE_TEXT_PATTERN,
    ...(description !== undefined ? { description } : {}),
  };
  return (nonBlank ? checked.trim() : checked).meta(documented);
}
