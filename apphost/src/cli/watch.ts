import fs from "node:fs";
import path from "node:path";
import { watch, type FSWatcher } from "chokidar";
import type { AppBuilder } from "../model/app-builder.js";
import { NodeAppResource } from "../model/node-app.js";

/** A service and the folders whose files it runs: its own, and the workspace packages it depends on. */
export interface WatchTarget {
  resource: string;
  directories: string[];
}

/**
 * What `--watch` watches: each Node app's or service's folder, plus every dependency of its package.json that
 * is a workspace package of this repository (a change in service-defaults restarts every
 * service using it). Infrastructure has no source here and is never restarted.
 */
export function watchTargets(model: AppBuilder, rootDir: string): WatchTarget[] {
  return model.resources().flatMap((resource) => {
    if (!(resource instanceof NodeAppResource)) return [];
    const directory = resource.resolveDirectory(rootDir);
    return [
      { resource: resource.name, directories: [directory, ...workspaceDependencies(directory, rootDir)] },
    ];
  });
}

function workspaceDependencies(directory: string, rootDir: string): string[] {
  let manifest: { dependencies?: Record<string, string> };
  try {
    manifest = JSON.parse(fs.readFileSync(path.join(directory, "package.json"), "utf8")) as typeof manifest;
  } catch {
    return [];
  }
  const root = fs.realpathSync(rootDir);
  return Object.keys(manifest.dependencies ?? {}).flatMap((name) => {
    try {
      const real = fs.realpathSync(path.join(rootDir, "node_modules", name));
      // A workspace link points back into the repository, outside node_modules.
      return real.startsWith(root + path.sep) && !real.split(path.sep).includes("node_modules") ? [real] : [];
    } catch {
      return [];
    }
  });
}

const IGNORED_SEGMENTS = new Set(["node_modules", ".git", "dist", "coverage", ".apphost", "test-results"]);

/** Files whose change does not change what runs: tests, editors' temporary files, logs. */
export function isIgnoredPath(file: string): boolean {
  const parts = file.split(path.sep);
  if (parts.some((part) => IGNORED_SEGMENTS.has(part))) return true;
  const base = parts.at(-1) ?? "";
  return (
    /\.(test|spec)\.[cm]?[jt]s$/.test(base) ||
    /(~|\.swp|\.swx|\.tmp|\.log)$/.test(base) ||
    base.startsWith(".#")
  );
}

export interface ServiceWatcherOptions {
  targets: WatchTarget[];
  /** Restarts one resource; a restart requested while one runs happens once it has finished. */
  restart: (resource: string, changed: string[]) => Promise<void>;
  /** Changes within this window are one restart (an editor's save, a git checkout). */
  debounceMs?: number;
  onError?: (error: Error) => void;
}

/** Watches service sources and restarts only the services whose files changed. */
export class ServiceWatcher {
  private watcher: FSWatcher | undefined;
  private readonly pending = new Map<string, { timer: NodeJS.Timeout; files: Set<string> }>();
  private readonly running = new Map<string, Promise<void>>();
  private readonly queued = new Map<string, Set<string>>();
  private closed = false;

  constructor(private readonly options: ServiceWatcherOptions) {}

  /** Resolves once the initial scan is done: changes after that are seen. */
  async start(): Promise<void> {
    const directories = [...new Set(this.options.targets.flatMap((t) => t.directories))];
    const watcher = watch(directories, { ignoreInitial: true, ignored: (file) => isIgnoredPath(file) });
    this.watcher = watcher;
    watcher.on("all", (event, file) => {
      if (event === "addDir" || event === "unlinkDir") return;
      this.changed(file);
    });
    watcher.on("error", (error) => this.options.onError?.(error as Error));
    await new Promise<void>((resolve) => watcher.once("ready", () => resolve()));
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const { timer } of this.pending.values()) clearTimeout(timer);
    this.pending.clear();
    await this.watcher?.close();
    await Promise.allSettled(this.running.values());
  }

  private changed(file: string): void {
    if (this.closed) return;
    for (const target of this.options.targets) {
      if (!target.directories.some((d) => file === d || file.startsWith(d + path.sep))) continue;
      const entry = this.pending.get(target.resource) ?? {
        timer: undefined as unknown as NodeJS.Timeout,
        files: new Set<string>(),
      };
      clearTimeout(entry.timer);
      entry.files.add(file);
      entry.timer = setTimeout(() => {
        this.pending.delete(target.resource);
        this.fire(target.resource, entry.files);
      }, this.options.debounceMs ?? 300);
      this.pending.set(target.resource, entry);
    }
  }

  private fire(resource: string, files: Set<string>): void {
    if (this.running.has(resource)) {
      const queued = this.queued.get(resource) ?? new Set<string>();
      for (const file of files) queued.add(file);
      this.queued.set(resource, queued);
      return;
    }
    const run = this.options
      .restart(resource, [...files])
      .catch((error: Error) => this.options.onError?.(error))
      .finally(() => {
        this.running.delete(resource);
        const next = this.queued.get(resource);
        this.queued.delete(resource);
        if (next && !this.closed) this.fire(resource, next);
      });
    this.running.set(resource, run);
  }
}

/** What `--watch` runs: restarts a service through the application when its sources change. */
export async function watchApplication(
  app: {
    model: AppBuilder;
    logs: { write(resource: string, stream: "apphost", text: string): void };
    restartResource(name: string): Promise<void>;
  },
  rootDir: string,
  say: (message: string) => void,
): Promise<ServiceWatcher> {
  const targets = watchTargets(app.model, rootDir);
  const watcher = new ServiceWatcher({
    targets,
    restart: async (resource, changed) => {
      const names = changed.map((file) => path.relative(rootDir, file));
      const shown =
        names.length > 3 ? `${names.slice(0, 3).join(", ")} and ${names.length - 3} more` : names.join(", ");
      app.logs.write(resource, "apphost", `[apphost] watch: ${shown} changed; restarting ${resource}`);
      say(`watch: ${shown} changed; restarting ${resource}`);
      await app.restartResource(resource);
    },
    onError: (error) => say(`watch: ${error.message}`),
  });
  await watcher.start();
  say(
    `watching ${targets.map((t) => t.resource).join(", ")} for changes (only the changed service restarts)`,
  );
  return watcher;
}
