import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { AppBuilder } from "../model/app-builder.js";
import { loadModelFile, locateModelFile, ModelFileError, takeModelOption } from "./model-file.js";

const appBuilderModule = pathToFileURL(
  path.join(path.dirname(fileURLToPath(import.meta.url)), "../model/app-builder.ts"),
).href;

let dir: string;

beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), "apphost-model-file-"));
  await fs.writeFile(path.join(dir, "package.json"), JSON.stringify({ type: "module" }));
});

afterEach(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

async function write(relative: string, content: string): Promise<string> {
  const file = path.join(dir, relative);
  await fs.mkdir(path.dirname(file), { recursive: true });
  await fs.writeFile(file, content);
  return file;
}

const model = (body: string) => `import { createApp } from ${JSON.stringify(appBuilderModule)};\n${body}\n`;

describe("takeModelOption", () => {
  it("takes --model <file> and --model=<file> from anywhere in the arguments", () => {
    expect(takeModelOption(["status", "--model", "x/apphost.ts", "--state-dir", "s"])).toEqual({
      model: "x/apphost.ts",
      rest: ["status", "--state-dir", "s"],
    });
    expect(takeModelOption(["--model=m.ts", "--detach"])).toEqual({ model: "m.ts", rest: ["--detach"] });
    expect(takeModelOption(["logs", "sender"])).toEqual({ model: undefined, rest: ["logs", "sender"] });
  });

  it("refuses --model without a file, or given twice", () => {
    expect(() => takeModelOption(["--model"])).toThrow(/--model needs a file/);
    expect(() => takeModelOption(["--model", "--detach"])).toThrow(/--model needs a file/);
    expect(() => takeModelOption(["--model", "a.ts", "--model=b.ts"])).toThrow(/more than once/);
  });
});

describe("locateModelFile", () => {
  it("finds ./apphost.ts first, then .mts, .js, .mjs; the root is the current directory", async () => {
    await write("apphost.mjs", "");
    expect(locateModelFile(undefined, dir)).toEqual({ file: path.join(dir, "apphost.mjs"), rootDir: dir });
    await write("apphost.js", "");
    expect(locateModelFile(undefined, dir).file).toBe(path.join(dir, "apphost.js"));
    await write("apphost.ts", "");
    expect(locateModelFile(undefined, dir).file).toBe(path.join(dir, "apphost.ts"));
  });

  it("resolves --model relative to the current directory; the root is the model file's directory", async () => {
    const file = await write("deploy/models/system.ts", "");
    expect(locateModelFile("deploy/models/system.ts", dir)).toEqual({
      file,
      rootDir: path.join(dir, "deploy/models"),
    });
    expect(locateModelFile(file, os.tmpdir()).rootDir).toBe(path.join(dir, "deploy/models"));
  });

  it("says what it looked for when there is no model file (exit code 2)", () => {
    const error = (() => {
      try {
        locateModelFile(undefined, dir);
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(ModelFileError);
    expect((error as ModelFileError).exitCode).toBe(2);
    expect((error as Error).message).toBe(
      `no model file in ${dir}: expected one of apphost.ts, apphost.mts, apphost.js, apphost.mjs, or pass --model <file>`,
    );
    expect(() => locateModelFile("missing.ts", dir)).toThrow(
      `model file ${path.join(dir, "missing.ts")} not found (--model missing.ts)`,
    );
  });
});

describe("loadModelFile", () => {
  it("loads a TypeScript model whose default export is a function returning the AppBuilder", async () => {
    await write(
      "apphost.ts",
      model(
        `const name: string = "from-ts";\nexport default () => { const app = createApp({ name }); app.addParameter("greeting", { default: "hi" }); return app; };`,
      ),
    );
    const loaded = await loadModelFile(undefined, dir);
    expect(loaded.model).toBeInstanceOf(AppBuilder);
    expect(loaded.model.name).toBe("from-ts");
    expect(loaded.model.resources().map((r) => r.name)).toEqual(["greeting"]);
    expect(loaded.rootDir).toBe(dir);
  });

  it("accepts an AppBuilder as the default export, and an async function", async () => {
    await write("a.mts", model(`export default createApp({ name: "value" });`));
    await write("b.mts", model(`export default async () => createApp({ name: "async" });`));
    expect((await loadModelFile("a.mts", dir)).model.name).toBe("value");
    expect((await loadModelFile("b.mts", dir)).model.name).toBe("async");
  });

  it("refuses a file without a default export, naming the file and what it expected", async () => {
    const file = await write("apphost.ts", model(`export const app = createApp();`));
    await expect(loadModelFile(undefined, dir)).rejects.toThrow(
      `${file} has no default export: expected \`export default\` of an AppBuilder (createApp(...)) or of a function returning one`,
    );
  });

  it("refuses a default export that is not an AppBuilder", async () => {
    const file = await write("apphost.ts", `export default () => ({ name: "nope" });`);
    await expect(loadModelFile(undefined, dir)).rejects.toThrow(
      `${file}: the default export is an object (Object), expected an AppBuilder (createApp(...)) or a function returning one`,
    );
  });

  it("reports a model that throws in one line, as a ModelFileError", async () => {
    const file = await write(
      "apphost.ts",
      model(
        `export default () => { const app = createApp(); app.addParameter("x"); app.addParameter("x"); return app; };`,
      ),
    );
    const error = await loadModelFile(undefined, dir).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ModelFileError);
    expect((error as Error).message).toMatch(new RegExp(`^the model in ${file} failed: [^\\n]+$`));
  });

  it("reports a model file that cannot be imported (syntax error, throw at the top level)", async () => {
    const file = await write("apphost.mjs", `throw new Error("top-level failure");`);
    await expect(loadModelFile(undefined, dir)).rejects.toThrow(
      `cannot load the model file ${file}: top-level failure`,
    );
  });

  it("refuses a .ts model that would load as CommonJS, saying how to fix it", async () => {
    await fs.writeFile(path.join(dir, "package.json"), "{}");
    const file = await write("apphost.ts", model(`export default createApp();`));
    await expect(loadModelFile(undefined, dir)).rejects.toThrow(
      `${file} would load as CommonJS: rename it to apphost.mts, or set "type": "module" in its package.json`,
    );
  });
});
