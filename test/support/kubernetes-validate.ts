import { execFile } from "node:child_process";
import { promisify } from "node:util";

const run = promisify(execFile);

/** The Kubernetes version published manifests must be valid for. */
export const KUBERNETES_VERSION = "1.33.0";

/**
 * `kubernetes-validate --strict` on `manifests` (file names in `dir`), offline against the schemas
 * the tool ships; its output, or an error naming what to install or what failed.
 */
export async function validateManifests(
  dir: string,
  manifests: readonly string[],
): Promise<{ stdout: string; stderr: string }> {
  try {
    return await run(
      "kubernetes-validate",
      ["--strict", "--kubernetes-version", KUBERNETES_VERSION, ...manifests],
      { cwd: dir, timeout: 120_000 },
    );
  } catch (error) {
    const e = error as NodeJS.ErrnoException & { stdout?: string; stderr?: string };
    if (e.code === "ENOENT")
      throw new Error(
        "kubernetes-validate is not installed: pip install kubernetes-validate==1.37.0 (see .ci/run)",
      );
    throw new Error(`kubernetes-validate failed:\n${e.stdout ?? ""}${e.stderr ?? ""}`);
  }
}
