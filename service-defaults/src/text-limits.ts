import { textField } from "./text-fields.js";

/**
 * Text that cannot be carried from a request to a receiver's database: U+0000 (PostgreSQL's `text`
 * and `jsonb` refuse it) and unpaired UTF-16 surrogates (no UTF-8 form; they would be silently
 * replaced, so the receiver would store other text than the sender answered with).
 */
// eslint-disable-next-line no-control-regex -- U+0000 is exactly what this looks for
const UNCARRIABLE = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

export function isCarriableText(text: string): boolean {
  return !UNCARRIABLE.test(text);
}

/** The sentence clients read about uncarriable text, in documents and in errors. */
export const UNCARRIABLE_TEXT_MESSAGE = "contains U+0000 or an unpaired surrogate, which cannot be stored";

/**
 * A limit on a text field shared by a producer's request schema and its consumers' event schemas.
 * Lengths are counted in Unicode code points, the unit JSON Schema's maxLength uses and what people
 * mean by characters: an emoji is one, a letter with a combining accent is two.
 */
export interface TextLimit {
  readonly maxLength: number;
  /** Some character must be left once trimmed, and the text is passed on trimmed. */
  readonly nonBlank: boolean;
}

/** An EntityItem's name: 1 to 200 characters, trimmed. */
export const ENTITY_ITEM_NAME: TextLimit = { maxLength: 200, nonBlank: true };
/** An EntityItem's description: up to 2000 characters, kept as sent. */
export const ENTITY_ITEM_DESCRIPTION: TextLimit = { maxLength: 2000, nonBlank: false };

/** How a limit reads in an API document. */
export function describeTextLimit(limit: TextLimit): string {
  const range = limit.nonBlank ? `1 to ${limit.maxLength}` : `Up to ${limit.maxLength}`;
  const trimmed = limit.nonBlank ? ", measured before trimming; passed on trimmed" : "";
  return (
    `${range} characters, counted in Unicode code points (an emoji is one, a combining mark ` +
    `another one)${trimmed}. U+0000 and unpaired surrogates are refused.`
  );
}

/**
 * The request field for a limit: validated and documented in the same unit. Text that cannot be
 * carried is refused by the service host for every request field (see host.ts), so it is only
 * documented here (the field's pattern and description).
 */
export function limitedTextField(limit: TextLimit, description?: string) {
  const unit = describeTextLimit(limit);
  return textField({
    maxLength: limit.maxLength,
    nonBlank: limit.nonBlank,
    description: description === undefined ? unit : `${description}. ${unit}`,
  });
}

/**
 * The same limit for a consumer's event schema, which has no host in front of it: also refuses
 * text that cannot be carried. Accepts exactly what `limitedTextField` accepts (and the host lets
 * through), and yields the same text.
 */
export function carriedTextSchema(limit: TextLimit) {
  return limitedTextField(limit).check((ctx) => {
    if (!isCarriableText(ctx.value))
      ctx.issues.push({ code: "custom", message: UNCARRIABLE_TEXT_MESSAGE, input: ctx.value });
  });
}
