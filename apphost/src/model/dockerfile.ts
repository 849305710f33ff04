import path from "node:path";
import { ContainerResource } from "./container.js";

export interface DockerfileOptions {
  /** The Dockerfile's path inside the context directory (default `Dockerfile`). */
  dockerfile?: string;
  /** `--build-arg` values. */
  buildArgs?: Record<string, string>;
}

const BUILD_ARG = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * A container whose image the engine builds from a Dockerfile (Aspire's AddDockerfile). Otherwise a
 * container resource like any other: endpoints, environment, volumes, readiness, replicas, and
 * references and `waitFor` from other resources. The image is tagged from the build's inputs, so an
 * unchanged context is not built again (providers/container/dockerfile-build.ts).
 */
export class DockerfileResource extends ContainerResource {
  readonly dockerfile: string;
  readonly buildArgs: Readonly<Record<string, string>>;

  constructor(
    name: string,
    /** The build context, relative to the project root or absolute. */
    readonly contextDir: string,
    options: DockerfileOptions = {},
  ) {
    // The tag is only known once the context has been read: see builtImageName.
    super(name, `${name}:dockerfile`);
    if (contextDir.trim() === "") throw new Error(`"${name}" needs a build context directory`);
    const dockerfile = options.dockerfile ?? "Dockerfile";
    if (path.isAbsolute(dockerfile) || path.normalize(dockerfile).startsWith(".."))
      throw new Error(`The Dockerfile of "${name}" must be a path inside its context (got "${dockerfile}")`);
    this.dockerfile = path.normalize(dockerfile);
    for (const key of Object.keys(options.buildArgs ?? {}))
      if (!BUILD_ARG.test(key)) throw new Error(`Invalid build argument name "${key}" on "${name}"`);
    this.buildArgs = { ...options.buildArgs };
  }

  /** Built at its start, never pulled. */
  override pulledImage(): undefined {
    return undefined;
  }

  resolveContext(rootDir: string): string {
    return path.resolve(rootDir, this.contextDir);
  }

  /** A built image is what this resource runs: `withImage` would silently ignore the Dockerfile. */
  override withImage(): this {
    throw new Error(`"${this.name}" is built from a Dockerfile: it has no image to replace`);
  }
}
