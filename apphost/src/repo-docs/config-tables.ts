import { readFile, writeFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import * as prettier from "prettier";
import type { z } from "zod";
import { receiverEnvSchema } from "../../../receiver-service/src/config.js";
import { senderEnvSchema } from "../../../sender-service/src/config.js";
import { baseEnvSchema } from "../../../service-defaults/src/config.js";
import {
  readMarkedBlock,
  renderConfigTable,
  replaceMarkedBlock,
} from "../../../service-defaults/src/config-table.js";

/**
 * This repository's generated configuration tables: which schema is rendered between which
 * markers of which document. `npm run docs:config` writes them; config-tables.test.ts fails when
 * a document's table differs from its schema.
 */

const repositoryRoot = fileURLToPath(new URL("../../../", import.meta.url));
const shared = Object.keys(baseEnvSchema.shape);

interface ConfigTable {
  /** Relative to the repository root. */
  document: string;
  /** Marker name: `<!-- config:<name>:start -->` … `<!-- config:<name>:end -->`. */
  name: string;
  schema: z.ZodObject;
  omit?: readonly string[];
}

export const configTables: readonly ConfigTable[] = [
  { document: "docs/apphost.md", name: "service-defaults", schema: baseEnvSchema },
  { document: "docs/relay.md", name: "sender", schema: senderEnvSchema, omit: shared },
  { document: "docs/receiver.md", name: "receiver", schema: receiverEnvSchema, omit: shared },
];

/** The table as prettier (the repository's format check) prints it, so both agree. */
export async function formattedTable(table: ConfigTable, file: string): Promise<string> {
  const options = (await prettier.resolveConfig(file)) ?? {};
  const markdown = renderConfigTable(table.schema, table.omit === undefined ? {} : { omit: table.omit });
  return (await prettier.format(markdown, { ...options, parser: "markdown" })).trim();
}

export interface ConfigTableCheck {
  document: string;
  name: string;
  /** The table the document holds now, and the one its schema gives. */
  actual: string;
  expected: string;
}

/** Each declared table as the document has it and as it should be. */
export async function checkConfigTables(root = repositoryRoot): Promise<ConfigTableCheck[]> {
  const checks: ConfigTableCheck[] = [];
  for (const table of configTables) {
    const file = `${root}/${table.document}`;
    const text = await readFile(file, "utf8");
    checks.push({
      document: table.document,
      name: table.name,
      actual: readMarkedBlock(text, table.name),
      expected: await formattedTable(table, file),
    });
  }
  return checks;
}

/** Rewrites every declared table that differs; returns the documents it changed. */
export async function writeConfigTables(root = repositoryRoot): Promise<string[]> {
  const changed = new Set<string>();
  for (const table of configTables) {
    const file = `${root}/${table.document}`;
    const text = await readFile(file, "utf8");
    const next = replaceMarkedBlock(text, table.name, await formattedTable(table, file));
    if (next !== text) {
      await writeFile(file, next);
      changed.add(table.document);
    }
  }
  return [...changed];
}
