// `apphost init`: writes a starter model for the repository it is run in, from what it detects,
// and keeps .apphost/ out of git.

import fs from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { detectProject, type DetectedResource } from "./init-detect.js";
import { ignoreStateDirectory, type GitignoreChange } from "./init-gitignore.js";
import { PACKAGE_NAME, renderModel } from "./init-model.js";
import { MODEL_FILE_NAMES, nearestPackageType } from "./model-file.js";
import { CliError } from "./state-files.js";

export const INIT_USAGE = `Usage: apphost init [<directory>] [--force]

Writes a starter model, apphost.ts, in <directory> (default: the current directory) from what it
finds there: npm workspaces (or, without them, the root package or the packages below it) and
their package.json start scripts (addNodeApp for "node <file>", else addNpmScript), directories
with a Dockerfile (addDockerfile), and Python or Go projects (a commented addExecutable to
complete). Nested node_modules, dist and dot-directories are not scanned.
Also adds .apphost/ (the AppHost's data, logs and secrets) to .gitignore, creating it if missing.
In a package without "type": "module" the model is written as apphost.mts, so it loads as ESM.

Options:
  --force     replace an existing model file (apphost.ts, .mts, .js, .mjs)
  -h, --help  this text
`;

const KIND_LABEL: Record<DetectedResource["kind"], string> = {
  "node-app": "node app",
  "npm-script": "npm script",
  dockerfile: "Dockerfile",
  hint: "hint only",
};

const GITIGNORE_REPORT: Record<GitignoreChange, (file: string) => string> = {
  created: (file) => `Created ${file} with .apphost/`,
  appended: (file) => `Added .apphost/ to ${file}`,
  unchanged: (file) => `${file} already ignores .apphost/ (unchanged)`,
};

/** Runs `apphost init ...`; returns the exit code. */
export async function initCommand(
  argv: string[],
  cwd: string,
  /** `--model`, which init refuses: it writes the default model file of a directory. */
  modelOption?: string,
  print: (line: string) => void = (line) => process.stdout.write(`${line}\n`),
): Promise<number> {
  if (modelOption !== undefined)
    throw new CliError(
      "init writes apphost.ts in a directory and takes no --model: apphost init [<directory>]",
      2,
    );
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        force: { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
      strict: true,
    });
  } catch (error) {
    throw new CliError(`${(error as Error).message}\n\n${INIT_USAGE}`, 2);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(INIT_USAGE);
    return 0;
  }
  if (positionals.length > 1) throw new CliError(`init takes one directory at most\n\n${INIT_USAGE}`, 2);
  const rootDir = path.resolve(cwd, positionals[0] ?? ".");
  if (!isDirectory(rootDir)) throw new CliError(`init: ${rootDir} is not a directory`, 2);

  const existing = MODEL_FILE_NAMES.filter((name) => fs.existsSync(path.join(rootDir, name)));
  if (existing.length > 0 && !values.force)
    throw new CliError(
      `init: ${path.join(rootDir, existing[0] ?? "")} already exists; nothing was changed (--force replaces it)`,
      2,
    );

  // A .ts file in a CommonJS package would load as CommonJS, which the CLI refuses.
  const fileName = nearestPackageType(rootDir) === "module" ? "apphost.ts" : "apphost.mts";
  const modelFile = path.join(rootDir, fileName);
  const detection = detectProject(rootDir);
  // Without --force, 'wx' also refuses a model file created since the check above.
  try {
    fs.writeFileSync(modelFile, renderModel(detection), { flag: values.force ? "w" : "wx" });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EEXIST")
      throw new CliError(`init: ${modelFile} already exists; nothing was changed (--force replaces it)`, 2);
    throw error;
  }
  const gitignore = await ignoreStateDirectory(rootDir);

  if (detection.resources.length === 0) print(`Detected nothing to run in ${rootDir}.`);
  else {
    print(`Detected in ${rootDir}:`);
    const width = Math.max(...detection.resources.map((r) => r.name.length));
    for (const r of detection.resources)
      print(`  ${r.name.padEnd(width)}  ${KIND_LABEL[r.kind].padEnd(10)}  ${r.evidence}`);
  }
  // Paths as the user typed them: relative to where init was run.
  const shown = (name: string) => path.relative(cwd, path.join(rootDir, name)) || name;
  print(`Wrote ${shown(fileName)}${values.force && existing.includes(fileName) ? " (replaced)" : ""}`);
  const shadowing = MODEL_FILE_NAMES.slice(0, MODEL_FILE_NAMES.indexOf(fileName)).filter((n) =>
    existing.includes(n),
  );
  if (shadowing.length > 0)
    print(`Note: ${shadowing.join(", ")} is found before ${fileName}; remove it to run the new model`);
  print(GITIGNORE_REPORT[gitignore](shown(".gitignore")));
  if (!declaresPackage(rootDir)) print(`Install the AppHost: npm install --save-dev ${PACKAGE_NAME}`);
  const elsewhere = path.relative(cwd, rootDir);
  print(elsewhere === "" ? "Next: npx apphost" : `Next: cd ${shellWord(elsewhere)} && npx apphost`);
  return 0;
}

/** Whether the directory's package.json lists the AppHost package among its dependencies. */
function declaresPackage(rootDir: string): boolean {
  try {
    const manifest = JSON.parse(fs.readFileSync(path.join(rootDir, "package.json"), "utf8")) as Record<
      string,
      unknown
    >;
    return ["dependencies", "devDependencies"].some((field) => {
      const deps = manifest[field];
      return typeof deps === "object" && deps !== null && PACKAGE_NAME in deps;
    });
  } catch {
    return false;
  }
}

/** A path as one shell word: quoted when it holds anything but letters, digits and `_./-`. */
function shellWord(text: string): string {
  return /^[\w./-]+$/.test(text) ? text : `'${text.replace(/'/g, `'\\''`)}'`;
}

function isDirectory(directory: string): boolean {
  try {
    return fs.statSync(directory).isDirectory();
  } catch {
    return false;
  }
}
