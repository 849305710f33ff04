// Registry digests of the images a publish names, from the local Docker engine: an image pulled
// from a registry carries its manifest digest (RepoDigests), which pins exactly what was tested.
// Nothing is pulled and no registry is asked: an image that is absent, built locally or unknown
// to a missing engine keeps its tag, and publish says so.

import { execFile } from "node:child_process";
import { promisify } from "node:util";

const run = promisify(execFile);

/** `sha256:…` by image reference, for the images whose digest the local engine knows. */
export async function localImageDigests(images: string[]): Promise<Map<string, string>> {
  const digests = new Map<string, string>();
  for (const image of new Set(images)) {
    const digest = await localDigest(image);
    if (digest !== undefined) digests.set(image, digest);
  }
  return digests;
}

async function localDigest(image: string): Promise<string | undefined> {
  let stdout: string;
  try {
    ({ stdout } = await run("docker", ["image", "inspect", "--format", "{{json .RepoDigests}}", image], {
      timeout: 20_000,
    }));
  } catch {
    // No engine, or the image is not here: no digest to pin.
    return undefined;
  }
  return digestFor(image, JSON.parse(stdout) as string[] | null);
}

/** The digest among RepoDigests (`<repository>@sha256:…`) that belongs to the image's repository. */
export function digestFor(image: string, repoDigests: string[] | null): string | undefined {
  const repository = repositoryOf(image);
  for (const entry of repoDigests ?? []) {
    const at = entry.lastIndexOf("@");
    const digest = entry.slice(at + 1);
    if (at > 0 && sameRepository(entry.slice(0, at), repository) && /^sha256:[0-9a-f]{64}$/.test(digest))
      return digest;
  }
  return undefined;
}

/** `postgres:15` → `postgres`; `registry:5000/x/y:1` → `registry:5000/x/y`. */
function repositoryOf(image: string): string {
  const withoutDigest = image.split("@")[0] ?? image;
  const slash = withoutDigest.lastIndexOf("/");
  const colon = withoutDigest.lastIndexOf(":");
  return colon > slash ? withoutDigest.slice(0, colon) : withoutDigest;
}

/** Docker Hub names are shown short (`postgres`) or long (`docker.io/library/postgres`). */
function sameRepository(a: string, b: string): boolean {
  const normal = (name: string) =>
    name
      .replace(/^docker\.io\//, "")
      .replace(/^index\.docker\.io\//, "")
      .replace(/^library\//, "");
  return normal(a) === normal(b);
}
