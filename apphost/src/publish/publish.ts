// `npm run apphost -- publish --target compose|kubernetes --output <dir>`: the model written out as
// deploy artifacts. Secrets are generated once and kept: publishing again reuses the values in the
// existing secrets file, because the data volumes were initialised with them (only when that file
// is the user's own and private: output-files.ts), and every other value the user edited in it
// stays too (env-file.ts). Executables are left out, with a line saying so.

import { execFile } from "node:child_process";
import path from "node:path";
import { parseArgs, promisify } from "node:util";
import type { AppBuilder } from "../model/app-builder.js";
import { DockerfileResource } from "../model/dockerfile.js";
import { NodeAppResource } from "../model/node-app.js";
import { NodeServiceResource } from "../model/node-service.js";
import { applyReplicaOverrides, parseReplicaOverrides } from "../model/replica-overrides.js";
import { generatePassword } from "../runtime/files.js";
import { ENV_FILE, renderCompose } from "./compose/compose-publisher.js";
import { deployPlan, type DeployPlan } from "./deploy-plan.js";
import { mergeEnvFile, parseEnvFile } from "./env-file.js";
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
import { nodeAppImageTag } from "./node-app-image.js";
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
  /** True when images are built from the project's folders (Node apps, build contexts). */
  buildsImages: boolean;
}

export async function publish(model: AppBuilder, options: PublishOptions): Promise<PublishResult> {
  // The tag hashes the services' sources and the project's lockfile; a model without node services
  // has no service image to name, and its project need not have either.
  const hasServices = model.resources().some((r) => r instanceof NodeServiceResource);
  const serviceTag =
    options.serviceTag ?? (hasServices ? await serviceImageTag(model, options.rootDir) : "unused");
  // A plain Node app's image is tagged from its own folder's files.
  const appTags = new Map<string, string>();
  for (const app of model.resources())
    if (app instanceof NodeAppResource && !(app instanceof NodeServiceResource))
      appTags.set(app.name, await nodeAppImageTag(app.resolveDirectory(options.rootDir)));
    else if (app instanceof DockerfileResource)
      appTags.set(app.name, await nodeAppImageTag(path.resolve(options.rootDir, app.contextDir)));
  const planOptions = { serviceTag, rootDir: options.rootDir, appTags };
  const images = deployPlan(model, planOptions).resources.map((r) => r.image.image);
  const digests = await (options.digests ?? localImageDigests)(images);
  const plan = deployPlan(model, { ...planOptions, digests });
  const built = (r: DeployPlan["resources"][number]) =>
    r.kind === "service" || (r.kind === "container" && r.build !== undefined);
  const unpinned = new Set(
    plan.resources.filter((r) => !r.image.pinned && !built(r)).map((r) => r.image.image),
  );
  for (const excluded of plan.excluded) options.log(`${excluded.name}: ${excluded.reason}`);
  for (const note of plan.notes) options.log(`note: ${note}`);
  for (const image of unpinned)
    options.log(
      `note: no registry digest known for ${image}: pinned by tag only. ` +
        `Pull it on this machine and publish again to pin it by digest.`,
    );
  const outputDir = path.resolve(options.outputDir);
  const secretsName = options.target === "compose" ? ENV_FILE : SECRETS_FILE;
  const secretsPath = path.join(outputDir, secretsName);

  await ensureDirectory(outputDir);
  const previousSecrets = await readPrivateFile(secretsPath);
  const secrets = secretValues(plan, previousSecrets);
  const layout = { outputDir };
  const files =
    options.target === "compose"
      ? renderCompose(plan, secrets, layout)
      : renderKubernetes(plan, secrets, layout);
  // The user's edits to the secrets file win over the regenerated defaults.
  const merged = mergeEnvFile(previousSecrets, files.get(secretsName) ?? "");
  files.set(secretsName, merged.text);
  if (merged.kept.length > 0)
    options.log(
      `${secretsName}: kept ${merged.kept.join(", ")} from the previous file (not written by the model; ` +
        `see its end, remove what nothing uses)`,
    );
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
  return {
    files: [...files.keys()].sort(),
    secretsFile: secretsPath,
    gitWorkTree,
    buildsImages: plan.resources.some(built),
  };
}

/** Existing values from the secrets file (KEY=value lines), new ones for the rest. */
function secretValues(plan: DeployPlan, previous: string | undefined): Record<string, string> {
  const existing = parseEnvFile(previous ?? "");
  // Letters and digits only: safe inside connection URIs and YAML without quoting or escaping.
  return Object.fromEntries(plan.secrets.map((s) => [s.name, existing.get(s.name) || generatePassword(32)]));
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
  compose     docker-compose.yaml, .env (generated secrets and settings), broker configuration
  kubernetes  manifests (Deployments, StatefulSets, Services, ConfigMaps, NetworkPolicies),
              secrets.env, a kustomization.yaml (kubectl apply -k <dir>) and, when images are
              built from the project's folders, build-images.sh
Secrets are generated once; publishing again into the same directory keeps every value you left in
.env / secrets.env (only from a file of yours with mode 0600; anything else is refused). Node apps
are built from their folders (their Dockerfile, or a generic one); executables are not published.

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
  if (values.target === "compose")
    say(
      result.buildsImages
        ? `run: cd ${values.output} && docker-compose build && docker-compose up -d   (or: docker compose up -d --build)`
        : `run: cd ${values.output} && docker-compose up -d   (or: docker compose up -d)`,
    );
  else {
    if (result.buildsImages)
      say(`build: sh ${path.join(values.output, "build-images.sh")}, then push the images to your registry`);
    say(`run: kubectl apply -k ${values.output}`);
  }
  return 0;
}
