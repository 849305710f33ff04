import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { deployPlan } from "../publish/deploy-plan.js";
import { createApp } from "./app-builder.js";
import { NodeAppResource, parseStartScript } from "./node-app.js";
import { NodeServiceResource } from "./node-service.js";

let root: string;

beforeEach(() => {
  root = mkdtempSync(path.join(os.tmpdir(), "node-app-"));
});

afterEach(() => {
  rmSync(root, { recursive: true, force: true });
});

function appFolder(packageJson: unknown, files: string[] = []): string {
  const dir = path.join(root, "web");
  mkdirSync(dir, { recursive: true });
  if (packageJson !== undefined)
    writeFileSync(
      path.join(dir, "package.json"),
      typeof packageJson === "string" ? packageJson : JSON.stringify(packageJson),
    );
  for (const file of files) {
    mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    writeFileSync(path.join(dir, file), "");
  }
  return dir;
}

describe("parseStartScript", () => {
  it("reads node <file>, node flags and the app's arguments", () => {
    expect(parseStartScript("node server.js")).toEqual({ nodeArgs: [], entry: "server.js", args: [] });
    expect(
      parseStartScript("  node --enable-source-maps --import=./otel.js dist/main.js --verbose "),
    ).toEqual({
      nodeArgs: ["--enable-source-maps", "--import=./otel.js"],
      entry: "dist/main.js",
      args: ["--verbose"],
    });
  });

  it("refuses other programs, shell syntax, a flag whose value is the next word and paths out of the folder", () => {
    for (const script of [
      "tsx src/main.ts",
      "nodemon server.js",
      "node",
      "node server.js && echo done",
      "PORT=1 node server.js",
      "node $ENTRY",
      "node --import tsx server.ts",
      "node -r dotenv/config server.js",
      "node ../other/server.js",
      "node /srv/server.js",
    ])
      expect(parseStartScript(script), script).toBeUndefined();
  });
});

describe("addNodeApp", () => {
  it("runs the start script's file with plain node: no loader, no service defaults", () => {
    const dir = appFolder({ scripts: { start: "node --enable-source-maps server.js --port-from-env" } }, [
      "server.js",
    ]);
    const app = createApp().addNodeApp("web", dir);
    expect(app.kind).toBe("node-app");
    expect(app.serviceDefaults).toBe(false);
    expect(app.startCommand(root)).toEqual({
      command: process.execPath,
      args: ["--enable-source-maps", path.join(dir, "server.js"), "--port-from-env"],
      cwd: dir,
    });
  });

  it("runs an explicit entry without reading package.json, relative to the root for a relative folder", () => {
    appFolder(undefined, ["lib/app.js"]);
    const app = createApp().addNodeApp("web", "web", { entry: "lib/app.js" });
    expect(app.startCommand(root)).toEqual({
      command: process.execPath,
      args: [path.join(root, "web", "lib/app.js")],
      cwd: path.join(root, "web"),
    });
  });

  it("adds the loader and telemetry hooks with withServiceDefaults()", () => {
    const dir = appFolder(undefined, ["server.ts"]);
    const app = createApp().addNodeApp("web", dir, { entry: "server.ts" }).withServiceDefaults();
    expect(app.startCommand(root).args).toEqual([
      "--conditions=outbox-source",
      "--import",
      "tsx",
      "--import",
      "@outbox/service-defaults/instrument",
      path.join(dir, "server.ts"),
    ]);
  });

  it("refuses an explicit entry outside the app's folder when the model is built", () => {
    for (const entry of ["", "../x.js", "/srv/x.js"])
      expect(() => createApp().addNodeApp("web", "web", { entry }), entry).toThrow(
        /Entry point of "web" must be a path inside its folder/,
      );
  });

  it("fails to start naming the app when neither a start script nor an entry tells the file", () => {
    const missing = path.join(root, "nothing-here");
    expect(() => new NodeAppResource("web", missing).startCommand(root)).toThrow(
      /Node app "web": cannot read .*nothing-here\/package\.json/,
    );
    const noScript = appFolder({ name: "web" });
    expect(() => new NodeAppResource("web", noScript).startCommand(root)).toThrow(
      /Node app "web": cannot tell its entry file, the start script of .* is missing, not "node <file>"; pass it as addNodeApp\("web", …, \{ entry: "server.js" \}\)/,
    );
    writeFileSync(path.join(noScript, "package.json"), JSON.stringify({ scripts: { start: "tsx main.ts" } }));
    expect(() => new NodeAppResource("web", noScript).startCommand(root)).toThrow(
      /is "tsx main.ts", not "node <file>"/,
    );
    writeFileSync(path.join(noScript, "package.json"), "{ not json");
    expect(() => new NodeAppResource("web", noScript).startCommand(root)).toThrow(
      /Node app "web": .*package\.json is not a JSON object/,
    );
  });

  it("fails to start naming the app when its entry file does not exist", () => {
    const dir = appFolder({ scripts: { start: "node server.js" } });
    expect(() => new NodeAppResource("web", dir).startCommand(root)).toThrow(
      `Node app "web": its entry file ${path.join(dir, "server.js")} does not exist`,
    );
  });
});

describe("addNodeService", () => {
  it("is a node app with service defaults and src/main.ts, as this repository's services run", () => {
    const dir = appFolder(undefined, ["src/main.ts", "src/other.ts"]);
    const service = createApp().addNodeService("web", dir);
    expect(service).toBeInstanceOf(NodeAppResource);
    expect(service.kind).toBe("node-service");
    expect(service.serviceDefaults).toBe(true);
    expect(service.startCommand(root).args).toEqual([
      "--conditions=outbox-source",
      "--import",
      "tsx",
      "--import",
      "@outbox/service-defaults/instrument",
      path.join(dir, "src/main.ts"),
    ]);
    expect(
      new NodeServiceResource("web", dir).withEntryPoint("src/other.ts").startCommand(root).args.at(-1),
    ).toBe(path.join(dir, "src/other.ts"));
  });
});

describe("addNpmScript", () => {
  it("runs npm run <script> in the folder, and fails naming the app when the script is missing", () => {
    const dir = appFolder({ scripts: { dev: "node server.js" } });
    const app = createApp().addNpmScript("web", dir, "dev");
    expect(app.startCommand(root)).toEqual({ command: "npm", args: ["run", "--silent", "dev"], cwd: dir });
    expect(() => createApp().addNpmScript("web", dir, "serve").startCommand(root)).toThrow(
      /Node app "web": .*package\.json has no "serve" script/,
    );
    expect(() => createApp().addNpmScript("web", dir, "dev; rm -rf /")).toThrow(/npm script name of "web"/);
    expect(() => app.withServiceDefaults()).toThrow(/npm script "web" cannot take service defaults/);
  });
});

describe("publish", () => {
  // What a node app publishes as: apphost/src/publish/user-model.test.ts.
  it("needs the project root to publish a node app (its folder is the image's source), naming the app", () => {
    const model = createApp();
    const db = model.addPostgres("pg").addDatabase("appdb");
    model.addNodeApp("web", "web", { entry: "server.js" }).withReference(db).withHttpEndpoint();
    expect(() => deployPlan(model, { serviceTag: "t" })).toThrow(
      'Cannot publish Node app "web" without the project root',
    );
  });
});
