import { createHash } from "node:crypto";
import { getContainerRuntimeClient, type ContainerRuntimeClient } from "testcontainers";
import { connectThroughLoopback } from "./loopback.js";

/**
 * Labels on every container and volume the AppHost creates. The state directory identifies one
 * AppHost (tests run several at once with the same app name): leftovers are found by it, never by
 * the app name alone.
 */
export const LABELS = {
  app: "outbox-apphost.app",
  run: "outbox-apphost.run",
  resource: "outbox-apphost.resource",
  stateDir: "outbox-apphost.state-dir",
} as const;

export interface Owner {
  appName: string;
  /** Absolute state directory of the AppHost. */
  stateDir: string;
  /** This AppHost run (a new id each start). */
  runId: string;
}

export function labelsFor(owner: Owner, resource: string): Record<string, string> {
  return {
    [LABELS.app]: owner.appName,
    [LABELS.run]: owner.runId,
    [LABELS.resource]: resource,
    [LABELS.stateDir]: owner.stateDir,
  };
}

/** `<app>-<resource>-<8 hex of the state directory>`: one per resource and state directory, kept across runs. */
export function volumeName(owner: Owner, resource: string, suffix = "data"): string {
  const slug = owner.appName.toLowerCase().replace(/[^a-z0-9_.-]+/g, "-");
  const hash = createHash("sha256").update(owner.stateDir).digest("hex").slice(0, 8);
  return `${slug}-${resource}-${suffix}-${hash}`;
}

export async function runtimeClient(): Promise<ContainerRuntimeClient> {
  connectThroughLoopback();
  return getContainerRuntimeClient();
}

/** Creates the named volume (labelled) when it does not exist yet. */
export async function ensureVolume(owner: Owner, resource: string, name: string): Promise<void> {
  const docker = (await runtimeClient()).container.dockerode;
  try {
    await docker.getVolume(name).inspect();
  } catch {
    await docker.createVolume({
      Name: name,
      Labels: {
        [LABELS.app]: owner.appName,
        [LABELS.resource]: resource,
        [LABELS.stateDir]: owner.stateDir,
      },
    });
  }
}

function stateDirFilter(stateDir: string): string {
  return JSON.stringify({ label: [`${LABELS.stateDir}=${stateDir}`] });
}

/** Removes (force) every container of the state directory; returns their names. */
export async function removeContainers(stateDir: string, runId?: string): Promise<string[]> {
  const docker = (await runtimeClient()).container.dockerode;
  const labels = [`${LABELS.stateDir}=${stateDir}`, ...(runId ? [`${LABELS.run}=${runId}`] : [])];
  const found = await docker.listContainers({ all: true, filters: JSON.stringify({ label: labels }) });
  const removed: string[] = [];
  for (const info of found) {
    try {
      // v: anonymous volumes only; named volumes (the data) are never removed by this.
      await docker.getContainer(info.Id).remove({ force: true, v: true });
      removed.push(`${info.Labels[LABELS.resource] ?? "?"} (${info.Id.slice(0, 12)}, ${info.State})`);
    } catch (error) {
      if ((error as { statusCode?: number }).statusCode !== 404) throw error;
    }
  }
  return removed;
}

/** Removes the named volumes of the state directory (`--fresh`, and tests when they end). */
export async function removeVolumes(stateDir: string): Promise<string[]> {
  const docker = (await runtimeClient()).container.dockerode;
  const { Volumes } = await docker.listVolumes({ filters: stateDirFilter(stateDir) });
  const removed: string[] = [];
  for (const volume of Volumes ?? []) {
    await docker.getVolume(volume.Name).remove();
    removed.push(volume.Name);
  }
  return removed;
}

/** Containers and volumes of a state directory, for tests that prove nothing is left. */
export async function listOwned(stateDir: string): Promise<{ containers: string[]; volumes: string[] }> {
  const docker = (await runtimeClient()).container.dockerode;
  const containers = await docker.listContainers({ all: true, filters: stateDirFilter(stateDir) });
  const { Volumes } = await docker.listVolumes({ filters: stateDirFilter(stateDir) });
  return { containers: containers.map((c) => c.Id), volumes: (Volumes ?? []).map((v) => v.Name) };
}

/** Present locally, or pullable (the registry answers for it), or neither, with the reason. */
export async function imageAvailability(
  image: string,
): Promise<{ available: true; how: "present" | "pullable" } | { available: false; reason: string }> {
  const docker = (await runtimeClient()).container.dockerode;
  try {
    await docker.getImage(image).inspect();
    return { available: true, how: "present" };
  } catch {
    // not present: ask the registry below
  }
  try {
    // GET /distribution/<name>/json: the registry's manifest, without pulling anything.
    await withTimeout(
      docker.getImage(image).distribution(),
      10_000,
      `the registry did not answer for ${image}`,
    );
    return { available: true, how: "pullable" };
  } catch (error) {
    return { available: false, reason: (error as Error).message.split("\n")[0] ?? "unknown" };
  }
}

async function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${message} within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Containers and volumes whose state directory starts with `prefix` and no longer exists: what a
 * test process that crashed before its clean-up left behind. Removed; returns what was removed.
 */
export async function removeOrphans(
  prefix: string,
  exists: (dir: string) => Promise<boolean>,
): Promise<string[]> {
  const docker = (await runtimeClient()).container.dockerode;
  const filters = JSON.stringify({ label: [LABELS.stateDir] });
  const removed: string[] = [];
  const orphan = async (labels: Record<string, string> | undefined) => {
    const dir = labels?.[LABELS.stateDir];
    return dir !== undefined && dir.startsWith(prefix) && !(await exists(dir));
  };
  for (const info of await docker.listContainers({ all: true, filters })) {
    if (!(await orphan(info.Labels))) continue;
    await docker.getContainer(info.Id).remove({ force: true, v: true });
    removed.push(`container ${info.Id.slice(0, 12)}`);
  }
  const { Volumes } = await docker.listVolumes({ filters });
  for (const volume of Volumes ?? []) {
    if (!(await orphan(volume.Labels ?? undefined))) continue;
    await docker.getVolume(volume.Name).remove();
    removed.push(`volume ${volume.Name}`);
  }
  return removed;
}
