import { qualifiedName, validateSchemaNames, type SchemaNames } from "../schema/identifiers.js";

/** The qualified, quoted names of an inbox's tables, as the consumer's SQL uses them. */
export interface InboxTables {
  /** `"schema"."prefix"inbox`: one row per (consumer group, message id) applied. */
  inbox: string;
  /** Skipped duplicate deliveries (best-effort records). */
  duplicates: string;
  /** Failed attempts (best-effort records). */
  failures: string;
  /** The inbox table's name as a text key (retention lock). */
  inboxKey: string;
}

/**
 * Existing tables that play the part of the duplicates and failures records (same columns as the
 * library's `inbox_duplicates` / `inbox_failures`), in the inbox's schema.
 */
export interface InboxTableNames {
  duplicates?: string;
  failures?: string;
}

const TABLE_NAME = /^[a-z_][a-z0-9_]*$/;

/** Resolves and validates the table names; throws a clear error for a bad name. */
export function inboxTables(names: SchemaNames, overrides: InboxTableNames = {}): InboxTables {
  const valid = validateSchemaNames(names);
  const table = (override: string | undefined, name: string): string => {
    if (override === undefined) return qualifiedName(valid, name);
    if (!TABLE_NAME.test(override) || override.length > 63) {
      throw new Error(
        `invalid table name ${JSON.stringify(override)}: expected a lower-case name matching ${TABLE_NAME.source}`,
      );
    }
    return qualifiedName({ schema: valid.schema, tablePrefix: "" }, override);
  };
  const inbox = qualifiedName(valid, "inbox");
  return {
    inbox,
    duplicates: table(overrides.duplicates, "inbox_duplicates"),
    failures: table(overrides.failures, "inbox_failures"),
    inboxKey: inbox,
  };
}
