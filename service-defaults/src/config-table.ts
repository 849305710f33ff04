import { z } from "zod";

/**
 * Renders a service's environment schema as a markdown table (variable, type or allowed values,
 * default, description), so that the configuration tables in docs/ come from the same zod schemas
 * that parse the environment and cannot drift from them. Reads the schema through zod's public
 * JSON Schema conversion, on the input side: what an operator writes into the environment.
 */

export interface ConfigTableOptions {
  /** Variables left out (e.g. the ones every service shares, documented once elsewhere). */
  omit?: readonly string[];
}

/** The parts of a property's JSON Schema the table shows. */
interface PropertySchema {
  type?: string;
  enum?: unknown[];
  format?: string;
  minimum?: number;
  exclusiveMinimum?: number;
  maximum?: number;
  exclusiveMaximum?: number;
  default?: unknown;
  description?: string;
}

/** One row of the table, before rendering. */
export interface ConfigVariable {
  name: string;
  type: string;
  /** "required", "unset" (optional without a default) or the default value. */
  default: string;
  description: string;
}

/** Lists an object schema's variables in declaration order; every one must carry a description. */
export function describeConfig(schema: z.ZodObject, options: ConfigTableOptions = {}): ConfigVariable[] {
  const json = z.toJSONSchema(schema, { io: "input", unrepresentable: "throw" }) as {
    properties?: Record<string, PropertySchema>;
    required?: string[];
  };
  const required = new Set(json.required ?? []);
  const omitted = new Set(options.omit ?? []);
  const undescribed: string[] = [];
  const variables: ConfigVariable[] = [];
  for (const [name, property] of Object.entries(json.properties ?? {})) {
    if (omitted.has(name)) continue;
    const description = property.description?.trim() ?? "";
    if (description === "") undescribed.push(name);
    variables.push({
      name,
      type: typeOf(name, property),
      default: required.has(name) ? "required" : "default" in property ? String(property.default) : "unset",
      description,
    });
  }
  if (undescribed.length > 0) {
    throw new Error(`config table: no description (zod .describe()) for ${undescribed.join(", ")}`);
  }
  return variables;
}

/** The markdown table of `describeConfig`; cells are escaped, lines end with "\n". */
export function renderConfigTable(schema: z.ZodObject, options: ConfigTableOptions = {}): string {
  const rows = describeConfig(schema, options).map((v) => [
    code(v.name),
    v.type,
    v.default === "required" || v.default === "unset" ? v.default : code(v.default),
    v.description,
  ]);
  const lines = [["Variable", "Type", "Default", "Description"], ["---", "---", "---", "---"], ...rows].map(
    (cells) => `| ${cells.map(cell).join(" | ")} |`,
  );
  return `${lines.join("\n")}\n`;
}

/** The comment lines that delimit a generated block named `name` in a markdown document. */
export function configMarkers(name: string): { start: string; end: string } {
  return { start: `<!-- config:${name}:start -->`, end: `<!-- config:${name}:end -->` };
}

/** The text between the markers of block `name` (exclusive), trimmed; throws without them. */
export function readMarkedBlock(document: string, name: string): string {
  const { from, to } = locate(document, name);
  return document.slice(from, to).trim();
}

/** The document with the text between the markers of block `name` replaced by `content`. */
export function replaceMarkedBlock(document: string, name: string, content: string): string {
  const { from, to } = locate(document, name);
  return `${document.slice(0, from)}\n\n${content.trim()}\n\n${document.slice(to)}`;
}

function locate(document: string, name: string): { from: number; to: number } {
  const { start, end } = configMarkers(name);
  const first = document.indexOf(start);
  const last = document.indexOf(end);
  if (first === -1 || last === -1) throw new Error(`config table: markers ${start} … ${end} not found`);
  if (document.indexOf(start, first + 1) !== -1 || document.indexOf(end, last + 1) !== -1) {
    throw new Error(`config table: markers of "${name}" appear more than once`);
  }
  if (last < first) throw new Error(`config table: ${end} comes before ${start}`);
  return { from: first + start.length, to: last };
}

function typeOf(name: string, p: PropertySchema): string {
  if (p.enum !== undefined) return p.enum.map((value) => code(String(value))).join(" \\| ");
  switch (p.type) {
    case "string":
      return p.format === "uri" ? "URL" : "text";
    case "integer":
    case "number":
      return withBounds(p.type, p);
    case "boolean":
      return "boolean";
    default:
      throw new Error(`config table: cannot describe the type of ${name} (${JSON.stringify(p)})`);
  }
}

/** "integer 1–1000", "integer ≥ 0", "number > 0" or plain "integer" (zod's safe-integer bounds left out). */
function withBounds(type: "integer" | "number", p: PropertySchema): string {
  const low = bound(type, p.minimum, p.exclusiveMinimum, 1);
  const high = bound(type, p.maximum, p.exclusiveMaximum, -1);
  if (low !== undefined && high !== undefined && low.inclusive && high.inclusive) {
    return `${type} ${low.value}–${high.value}`;
  }
  const parts = [
    ...(low === undefined ? [] : [`${low.inclusive ? "≥" : ">"} ${low.value}`]),
    ...(high === undefined ? [] : [`${high.inclusive ? "≤" : "<"} ${high.value}`]),
  ];
  return [type, ...parts].join(" ");
}

/** An integer's exclusive bound becomes the inclusive one next to it; safe-integer limits vanish. */
function bound(
  type: "integer" | "number",
  inclusive: number | undefined,
  exclusive: number | undefined,
  direction: 1 | -1,
): { value: number; inclusive: boolean } | undefined {
  const found =
    inclusive !== undefined
      ? { value: inclusive, inclusive: true }
      : exclusive === undefined
        ? undefined
        : type === "integer"
          ? { value: exclusive + direction, inclusive: true }
          : { value: exclusive, inclusive: false };
  if (found === undefined || Math.abs(found.value) >= Number.MAX_SAFE_INTEGER) return undefined;
  return found;
}

function code(text: string): string {
  return `\`${text}\``;
}

/** One table cell: a single line, with pipes escaped (backslashes first, so none is doubled). */
function cell(text: string): string {
  return text.replace(/\s+/g, " ").replace(/(?<!\\)\|/g, "\\|");
}
