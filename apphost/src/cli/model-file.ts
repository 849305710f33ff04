// Which application model the CLI runs: `--model <file>`, else the first of MODEL_FILE_NAMES in
// the current directory. The model file's directory is the project root: services' directories
// resolve against it and the state directory (.apphost/) lives in it.
//
// Convention: the file's default export is an AppBuilder, or a function (sync or async) that
// returns one.

import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { AppBuilder } from "../model/app-builder.js";
import { CliError } from "./state-files.js";

/** Looked for in this order in the current directory when `--model` is not given. */
export const MODEL_FILE_NAMES = ["apphost.ts", "apphost.mts", "apphost.js", "apphost.mjs"] as const;

const TYPESCRIPT = new Set([".ts", ".mts", ".cts"]);

/** A model file the CLI cannot use: a one-line message, exit code 2. */
export class ModelFileError extends CliError {
  constructor(message: string) {
    super(message, 2);
  }
}

export interface ModelProject {
  /** Absolute path of the model file. */
  file: string;
  /** The model file's directory. */
  rootDir: string;
}

export interface LoadedModel extends ModelProject {
  model: AppBuilder;
}

/**
 * Removes `--model <file>` / `--model=<file>` from the arguments, wherever it stands, so that every
 * verb accepts it without knowing about it.
 */
export function takeModelOption(argv: readonly string[]): { model: string | undefined; rest: string[] } {
  const rest: string[] = [];
  let model: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? "";
    if (arg === "--") {
      rest.push(...argv.slice(i));
      break;
    }
    if (arg === "--model" || arg.startsWith("--model=")) {
      const value = arg === "--model" ? argv[++i] : arg.slice("--model=".length);
      if (!value || value.startsWith("-")) throw new ModelFileError("--model needs a file: --model <file>");
      if (model !== undefined) throw new ModelFileError("--model is given more than once");
      model = value;
      continue;
    }
    rest.push(arg);
  }
  return { model, rest };
}

/** The model file (`option` relative to `cwd`, or the default names in `cwd`) and its directory. */
export function locateModelFile(option: string | undefined, cwd: string): ModelProject {
  if (option !== undefined) {
    const file = path.resolve(cwd, option);
    if (!isFile(file)) throw new ModelFileError(`model file ${file} not found (--model ${option})`);
    return { file, rootDir: path.dirname(file) };
  }
  for (const name of MODEL_FILE_NAMES) {
    const file = path.join(cwd, name);
    if (isFile(file)) return { file, rootDir: cwd };
  }
  throw new ModelFileError(
    `no model file in ${cwd}: expected one of ${MODEL_FILE_NAMES.join(", ")}, or pass --model <file>`,
  );
}

/** Imports the model file and returns the AppBuilder it exports. */
export async function loadModel(project: ModelProject): Promise<LoadedModel> {
  const { file } = project;
  if (TYPESCRIPT.has(path.extname(file))) {
    assertEsmScope(file);
    await registerTypeScript();
  }
  let exports: Record<string, unknown>;
  try {
    exports = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  } catch (error) {
    throw new ModelFileError(`cannot load the model file ${file}: ${firstLine(error)}`);
  }
  if (!("default" in exports))
    throw new ModelFileError(
      `${file} has no default export: expected \`export default\` of an AppBuilder (createApp(...)) or of a function returning one`,
    );
  let value = exports.default;
  if (typeof value === "function") {
    try {
      value = await (value as () => unknown)();
    } catch (error) {
      throw new ModelFileError(`the model in ${file} failed: ${firstLine(error)}`);
    }
  }
  if (!(value instanceof AppBuilder))
    throw new ModelFileError(
      `${file}: the default export is ${describe(value)}, expected an AppBuilder (createApp(...)) or a function returning one` +
        (isAppBuilderLike(value) ? " (it looks like one from a second copy of @outbox/apphost)" : ""),
    );
  return { ...project, model: value };
}

/** locateModelFile + loadModel. */
export async function loadModelFile(option: string | undefined, cwd: string): Promise<LoadedModel> {
  return loadModel(locateModelFile(option, cwd));
}

let typeScriptRegistered: Promise<void> | undefined;

/**
 * tsx's hooks, registered once for the whole process (not tsImport's isolated namespace: a model
 * loaded in its own module graph would get its own copy of @outbox/apphost, and the runtime's
 * `instanceof` checks would not recognise its resources). Registering again when the CLI already
 * runs under `--import tsx` is harmless.
 */
function registerTypeScript(): Promise<void> {
  typeScriptRegistered ??= import("tsx/esm/api").then(({ register }) => {
    register();
  });
  return typeScriptRegistered;
}

/**
 * A `.ts` model in a CommonJS package would be compiled to CommonJS by tsx, and its `require` of
 * @outbox/apphost would load a second copy of the package: refuse it with what to do instead.
 */
function assertEsmScope(file: string): void {
  const extension = path.extname(file);
  if (extension === ".mts") return;
  if (extension === ".ts" && nearestPackageType(path.dirname(file)) === "module") return;
  throw new ModelFileError(
    `${file} would load as CommonJS: rename it to apphost.mts, or set "type": "module" in its package.json`,
  );
}

/** The `type` of the package.json nearest to `directory` (upwards), if any. */
export function nearestPackageType(directory: string): string | undefined {
  for (let dir = directory; ; dir = path.dirname(dir)) {
    const manifest = path.join(dir, "package.json");
    if (isFile(manifest)) {
      try {
        return (JSON.parse(fs.readFileSync(manifest, "utf8")) as { type?: string }).type;
      } catch {
        return undefined;
      }
    }
    if (path.dirname(dir) === dir) return undefined;
  }
}

function isFile(file: string): boolean {
  try {
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

function isAppBuilderLike(value: unknown): boolean {
  return typeof value === "object" && value !== null && value.constructor?.name === "AppBuilder";
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (typeof value === "object") return `an object (${value.constructor?.name ?? "no class"})`;
  return typeof value === "undefined" ? "undefined" : `a ${typeof value}`;
}

function firstLine(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.split("\n")[0] ?? text;
}
