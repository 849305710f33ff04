// `npm run apphost -- publish --target compose|kubernetes --output <dir>`: the model written out as
// deploy artifacts. Secrets are generated once and kept: publishing again reuses the values in the
// existing secrets file, because the data volumes were initialised with them (only when that file
// is the user's own and private: output-files.ts).

import { execFile } from "node:child_process";
import path from "node:path";
import { parseArgs, promisify } from "node:util";
import type { AppBuilder } from "../model/app-builder.js";
import { NodeServiceResource } from "../model/node-service.js";
import { applyReplicaOverrides, parseReplicaOverrides } from "../model/replica-overrides.js";
import { generatePassword } from "../runtime/files.js";
import { ENV_FILE, renderCompose } from "./compose/compose-publisher.js";
import { deployPlan, type DeployPlan } from "./deploy-plan.js";
import { localImageDigests } from "./image-digests.js";
import { SECRETS_FILE, renderKubernetes } from "./kubernetes/kubernetes-publisher.js";
import {
  ensureDirectory,
  mergeGitignore,
  PublishError,
  readOutputFile,
  readPrivateFile,
  writeOutputFile,
} from "./output-files.js";
import { serviceImageTag } from "./service-images.js";

export type PublishTarget = "compose" | "kubernetes";

export interface PublishOptions {
  target: PublishTarget;
  outputDir: string;
  /** The project root (the model file's directory): the services' sources, for their image tag. */
  rootDir: string;
  /** Messages for the user (warnings included). */
  log: (message: string) => void;
  /** Tag of the services' images; default: derived from their sources (serviceImageTag). */
  serviceTag?: string;
  /** Registry digests by image reference; default: what the local Docker engine knows. */
  digests?: (images: string[]) => Promise<ReadonlyMap<string, string>>;
}

export interface PublishResult {
  files: string[];
  secretsFile: string;
  /** Set when the output is inside a git work tree. */
  gitWorkTree: string | undefined;
}

export async function publish(model: AppBuilder, options: PublishOptions): Promise<PublishResult> {
  // The tag hashes the services' sources and the project's lockfile; a model without node services
  // has no service image to name, and its project need not have either.
  const hasServices = model.resources().some((r) => r instanceof NodeServiceResource);
  const serviceTag =
    options.serviceTag ?? (hasServices ? await serviceImageTag(model, options.rootDir) : "unused");
  const images = deployPlan(model, { serviceTag }).resources.map((r) => r.image.image);
  const digests = await (options.digests ?? localImageDigests)(images);
  const plan = deployPlan(model, { serviceTag, digests });
  const unpinned = new Set(
    plan.resources.filter((r) => !r.image.pinned && r.kind !== "service").map((r) => r.image.image),
  );
  for (const image of unpinned)
    options.log(
      `note: no registry digest known for ${image}: pinned by tag only. ` +
        `Pull it on this machine and publish again to pin it by digest.`,
    );
  const outputDir = path.resolve(options.outputDir);
  const secretsName = options.target === "compose" ? ENV_FILE : SECRETS_FILE;
  const secretsPath = path.join(outputDir, secretsName);

  await ensureDirectory(outputDir);
  const secrets = await secretValues(plan, secretsPath);
  const files = options.target === "compose" ? renderCompose(plan, secrets) : renderKubernetes(plan, secrets);
  // Keeps the secrets file out of commits when the output sits in a repository; the user's own
  // lines in an existing .gitignore stay.
  files.set(
    ".gitignore",
    mergeGitignore(await readOutputFile(path.join(outputDir, ".gitignore")), secretsName),
  );

  for (const [relative, content] of files) {
    await ensureDirectory(outputDir, path.dirname(relative));
    await writeOutputFile(path.join(outputDir, relative), content, { secret: relative === secretsName });
  }

  const gitWorkTree = await gitWorkTreeOf(outputDir);
  if (gitWorkTree) {
    options.log(
      `WARNING: ${outputDir} is inside the git work tree ${gitWorkTree}. ${secretsName} holds generated ` +
        `secrets; the .gitignore written next to it keeps it out of commits, but check before you commit, ` +
        `or publish outside the repository.`,
    );
  }
  return { files: [...files.keys()].sort(), secretsFile: secretsPath, gitWorkTree };
}

/** Existing values from the secrets file (KEY=value lines), new ones for the rest. */
async function secretValues(plan: DeployPlan, file: string): Promise<Record<string, string>> {
  const existing: Record<string, string> = {};
  const text = (await readPrivateFile(file)) ?? "";
  for (const line of text.split("\n")) {
    const match = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line.trim());
    if (match?.[1] && match[2] !== undefined) existing[match[1]] = match[2];
  }
  // Letters and digits only: safe inside connection URIs and YAML without quoting or escaping.
  return Object.fromEntries(plan.secrets.map((s) => [s.name, existing[s.name] || generatePassword(32)]));
}

async function gitWorkTreeOf(dir: string): Promise<string | undefined> {
  try {
    const { stdout } = await promisify(execFile)("git", ["-C", dir, "rev-parse", "--show-toplevel"], {
      timeout: 10_000,
    });
    return stdout.trim() || undefined;
  } catch {
    // Not a repository, or no git: nothing to warn about.
    return undefined;
  }
}

const USAGE = `Usage: npm run apphost -- publish --target <compose|kubernetes> --output <dir>

Writes the application model (the model file, see apphost --help) as deploy artifacts:
  compose     docker-compose.yaml, .env (generated secrets), broker configuration
  kubernetes  manifests (Deployments, StatefulSets, Services, ConfigMaps, NetworkPolicies),
              secrets.env and a kustomization.yaml (kubectl apply -k <dir>)
Secrets are generated once and kept when you publish again into the same directory (only from a
secrets file of yours with mode 0600; anything else is refused).

Options:
  --replicas <svc=n,...>   replica counts, e.g. sender=3,receiver=3 (default: the model's)
  --image-tag <tag>        tag of the services' images (default: derived from their sources, the
                           tag \`npm run images:services\` builds)
`;

/** The `publish` verb of the CLI; returns the exit code. */
export async function publishCommand(
  argv: string[],
  loadProject: () => Promise<{ model: AppBuilder; rootDir: string }>,
): Promise<number> {
  let values;
  try {
    values = parseArgs({
      args: argv,
      options: {
        target: { type: "string" },
        output: { type: "string" },
        replicas: { type: "string" },
        "image-tag": { type: "string" },
        help: { type: "boolean", short: "h", default: false },
      },
      strict: true,
    }).values;
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (values.target !== "compose" && values.target !== "kubernetes") {
    process.stderr.write(`--target must be compose or kubernetes (got "${values.target ?? ""}")\n\n${USAGE}`);
    return 2;
  }
  if (!values.output) {
    process.stderr.write(`--output <dir> is required\n\n${USAGE}`);
    return 2;
  }
  // After the arguments: a usage error or --help needs no model file.
  const { model, rootDir } = await loadProject();
  try {
    if (values.replicas !== undefined) applyReplicaOverrides(model, parseReplicaOverrides(values.replicas));
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n`);
    return 2;
  }
  const say = (message: string) => process.stdout.write(`publish | ${message}\n`);
  let result: PublishResult;
  try {
    result = await publish(model, {
      target: values.target,
      outputDir: values.output,
      rootDir,
      log: say,
      ...(values["image-tag"] !== undefined ? { serviceTag: values["image-tag"] } : {}),
    });
  } catch (error) {
    if (!(error instanceof PublishError)) throw error;
    process.stderr.write(`publish | ${error.message}\n`);
    return 1;
  }
  say(`wrote ${result.files.length} files to ${path.resolve(values.output)}:`);
  for (const file of result.files) say(`  ${file}`);
  say(`secrets: ${result.secretsFile} (mode 0600)`);
  say(
    values.target === "compose"
      ? `run: cd ${values.output} && docker-compose up -d   (or: docker compose up -d)`
      : `run: kubectl apply -k ${values.output}`,
  );
  return 0;
}
