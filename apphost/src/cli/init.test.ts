import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import ts from "typescript";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { initCommand } from "./init.js";
import { renderModel } from "./init-model.js";
import { CliError } from "./state-files.js";

let dir: string;
let printed: string[];

beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), "apphost-init-"));
  printed = [];
});

afterEach(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

const init = (...argv: string[]) => initCommand(argv, dir, undefined, (line) => printed.push(line));

async function write(relative: string, content: string): Promise<void> {
  const file = path.join(dir, relative);
  await fs.mkdir(path.dirname(file), { recursive: true });
  await fs.writeFile(file, content);
}

async function rejection(promise: Promise<unknown>): Promise<CliError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(CliError);
  return error as CliError;
}

describe("renderModel", () => {
  it("writes one commented call per detected resource and the default export", () => {
    const text = renderModel({
      projectName: "@acme/Shop",
      resources: [
        { name: "api", kind: "node-app", directory: "packages/api", evidence: "E1", alsoDockerfile: true },
        { name: "web", kind: "npm-script", directory: "web", evidence: "E2", script: "start" },
        { name: "worker", kind: "dockerfile", directory: "worker", evidence: "E3", exposedPort: 8080 },
        { name: "proxy", kind: "dockerfile", directory: "proxy", evidence: "E4" },
        { name: "ml", kind: "hint", hint: "Python", directory: "ml", evidence: "E5" },
      ],
    });
    expect(text).toContain('import { createApp } from "@outbox/apphost";\n');
    expect(text).toContain('const app = createApp({ name: "acme-shop" });\n');
    expect(text).toContain(
      "// E1 (run with node; PORT and HOST are injected).\n" +
        '// It also has a Dockerfile: app.addDockerfile("api", "packages/api") would run it as a container instead.\n' +
        'app.addNodeApp("api", "packages/api").withHttpEndpoint();\n',
    );
    expect(text).toContain('app.addNpmScript("web", "web", "start").withHttpEndpoint();\n');
    expect(text).toContain('app.addDockerfile("worker", "worker").withHttpEndpoint(8080);\n');
    expect(text).toContain('\napp.addDockerfile("proxy", "proxy");\n');
    expect(text).toContain(
      '// app.addExecutable("ml", "python3", ["main.py"]).withWorkingDirectory("ml").withHttpEndpoint();\n',
    );
    expect(text.endsWith("\nexport default app;\n")).toBe(true);
  });

  it("is valid TypeScript for every kind of resource, and with nothing detected", () => {
    const kinds = renderModel({
      projectName: "all-kinds",
      resources: [
        { name: "a", kind: "node-app", directory: ".", evidence: 'package.json, start script "node a.js"' },
        { name: "b", kind: "npm-script", directory: "b's dir", evidence: "b", script: "start" },
        { name: "c", kind: "dockerfile", directory: 'c"d', evidence: "c/Dockerfile", exposedPort: 80 },
        { name: "d", kind: "dockerfile", directory: "d", evidence: "d/Dockerfile" },
        { name: "e", kind: "hint", hint: "Python", directory: "e", evidence: "e/pyproject.toml" },
        { name: "f", kind: "hint", hint: "Go", directory: "f", evidence: "f/go.mod" },
        { name: "g", kind: "hint", hint: "dev script", directory: "g", evidence: "g/package.json" },
      ],
    });
    const empty = renderModel({ projectName: "empty", resources: [] });
    expect(empty).toContain("// Nothing to run was detected");
    for (const text of [kinds, empty]) {
      const { diagnostics } = ts.transpileModule(text, {
        reportDiagnostics: true,
        compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
      });
      expect(diagnostics?.map((d) => ts.flattenDiagnosticMessageText(d.messageText, "\n"))).toEqual([]);
    }
  });

  it("keeps a line break in a directory name inside the comment", () => {
    const text = renderModel({
      projectName: "x",
      resources: [
        {
          name: "evil",
          kind: "dockerfile",
          directory: "a\nprocess.exit(1)//",
          evidence: "a\nprocess.exit(1)//\u2028x/Dockerfile",
        },
      ],
    });
    expect(text).not.toMatch(/^process\.exit/m);
    expect(text).toContain("// a?process.exit(1)//?x/Dockerfile (built");
    expect(text).toContain('app.addDockerfile("evil", "a\\nprocess.exit(1)//");');
  });
});

describe("initCommand", () => {
  it("writes apphost.ts in an ES module package, ignores .apphost/, and says what it did", async () => {
    await write(
      "package.json",
      JSON.stringify({ name: "solo", type: "module", scripts: { start: "node a.js" } }),
    );
    expect(await init()).toBe(0);
    const model = await fs.readFile(path.join(dir, "apphost.ts"), "utf8");
    expect(model).toContain('app.addNodeApp("solo", ".").withHttpEndpoint();');
    expect(await fs.readFile(path.join(dir, ".gitignore"), "utf8")).toBe(".apphost/\n");
    expect(printed).toEqual([
      `Detected in ${dir}:`,
      '  solo  node app    package.json, start script "node a.js"',
      "Wrote apphost.ts",
      "Created .gitignore with .apphost/",
      "Install the AppHost: npm install --save-dev @outbox/apphost",
      "Next: npx apphost",
    ]);
  });

  it("writes apphost.mts in a CommonJS package (a .ts model there would load as CommonJS)", async () => {
    await write("package.json", JSON.stringify({ name: "cjs", devDependencies: { "@outbox/apphost": "*" } }));
    expect(await init()).toBe(0);
    await expect(fs.access(path.join(dir, "apphost.ts"))).rejects.toThrow();
    expect(await fs.readFile(path.join(dir, "apphost.mts"), "utf8")).toContain("export default app;");
    expect(printed).toContain("Wrote apphost.mts");
    expect(printed).not.toContain("Install the AppHost: npm install --save-dev @outbox/apphost");
  });

  it("refuses to replace any existing model file without --force, changing nothing", async () => {
    await write("package.json", JSON.stringify({ type: "module" }));
    for (const name of ["apphost.ts", "apphost.mts", "apphost.js", "apphost.mjs"]) {
      await write(name, "// mine\n");
      const error = await rejection(init());
      expect(error.exitCode).toBe(2);
      expect(error.message).toBe(
        `init: ${path.join(dir, name)} already exists; nothing was changed (--force replaces it)`,
      );
      expect((await fs.readdir(dir)).sort()).toEqual([name, "package.json"]);
      expect(await fs.readFile(path.join(dir, name), "utf8")).toBe("// mine\n");
      await fs.rm(path.join(dir, name));
    }
  });

  it("--force replaces the model and keeps the user's .gitignore", async () => {
    await write("package.json", JSON.stringify({ type: "module" }));
    await write("apphost.ts", "// mine\n");
    await write(".gitignore", "node_modules/\n");
    expect(await init("--force")).toBe(0);
    expect(await fs.readFile(path.join(dir, "apphost.ts"), "utf8")).toContain("export default app;");
    expect(await fs.readFile(path.join(dir, ".gitignore"), "utf8")).toBe("node_modules/\n.apphost/\n");
    expect(printed).toContain("Wrote apphost.ts (replaced)");
    expect(printed).toContain("Added .apphost/ to .gitignore");
  });

  it("takes a directory argument and refuses a missing one, extra ones and --model", async () => {
    await write("sub/package.json", JSON.stringify({ type: "module" }));
    expect(await init("sub")).toBe(0);
    await expect(fs.access(path.join(dir, "sub", "apphost.ts"))).resolves.toBeUndefined();
    expect(printed).toEqual([
      `Detected nothing to run in ${path.join(dir, "sub")}.`,
      "Wrote sub/apphost.ts",
      "Created sub/.gitignore with .apphost/",
      "Install the AppHost: npm install --save-dev @outbox/apphost",
      "Next: cd sub && npx apphost",
    ]);
    await fs.mkdir(path.join(dir, "it's here"));
    expect(await init("it's here")).toBe(0);
    expect(printed.at(-1)).toBe("Next: cd 'it'\\''s here' && npx apphost");
    expect((await rejection(init("missing"))).message).toBe(
      `init: ${path.join(dir, "missing")} is not a directory`,
    );
    expect((await rejection(init("a", "b"))).exitCode).toBe(2);
    expect((await rejection(init("--forse"))).exitCode).toBe(2);
    const model = await rejection(initCommand([], dir, "x.ts", () => {}));
    expect(model.message).toMatch(/takes no --model/);
  });
});
