/**
 * Names the library puts into SQL: a PostgreSQL schema and a table prefix chosen by the user. They
 * are validated rather than escaped, so that the rendered SQL reads the same quoted (what the runner
 * writes) and unquoted (what Flyway or Liquibase write when they substitute the placeholders).
 */

const NAME = /^[a-z_][a-z0-9_]*$/;
/** PostgreSQL silently truncates longer identifiers (NAMEDATALEN - 1). */
export const MAX_IDENTIFIER_LENGTH = 63;

export interface SchemaNames {
  /** PostgreSQL schema of the library's tables. Default "public". */
  schema: string;
  /** Prepended to every table, index, constraint, function and trigger name. Default "". */
  tablePrefix: string;
}

/** Throws a clear error unless `schema` and `tablePrefix` are names the library accepts. */
export function validateSchemaNames(names: SchemaNames): SchemaNames {
  const { schema, tablePrefix } = names;
  if (typeof schema !== "string" || !NAME.test(schema) || schema.length > MAX_IDENTIFIER_LENGTH) {
    throw new Error(
      `invalid schema ${JSON.stringify(schema)}: expected a lower-case name matching ${NAME.source}, at most ${MAX_IDENTIFIER_LENGTH} characters`,
    );
  }
  if (typeof tablePrefix !== "string" || (tablePrefix !== "" && !NAME.test(tablePrefix))) {
    throw new Error(
      `invalid tablePrefix ${JSON.stringify(tablePrefix)}: expected "" or a lower-case name matching ${NAME.source}`,
    );
  }
  return { schema, tablePrefix };
}

/** An identifier in double quotes; only ever called with validated names. */
export function quoteIdentifier(name: string): string {
  return `"${name}"`;
}

/** A prefixed name, checked against PostgreSQL's identifier length. */
export function prefixedName(tablePrefix: string, name: string): string {
  const full = `${tablePrefix}${name}`;
  if (full.length > MAX_IDENTIFIER_LENGTH) {
    throw new Error(
      `the name ${full} is longer than PostgreSQL's ${MAX_IDENTIFIER_LENGTH} characters: choose a shorter tablePrefix`,
    );
  }
  return full;
}

/** `"schema"."prefix+name"`: a qualified, quoted table name for SQL written by the library. */
export function qualifiedName(names: SchemaNames, name: string): string {
  return `${quoteIdentifier(names.schema)}.${quoteIdentifier(prefixedName(names.tablePrefix, name))}`;
}
