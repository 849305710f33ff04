import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createApp } from "../model/app-builder.js";
import { parseEnvFile } from "./env-file.js";
import { publish } from "./publish.js";

let dir: string;

beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), "apphost-publish-"));
});

afterEach(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

describe("publish", () => {
  it("publishes a model without node services from a project root that has no lockfile", async () => {
    const model = createApp({ name: "user-project" });
    model.addPostgres("db").addDatabase("appdb");
    // Precondition: the project root has none of the files a service image tag is derived from.
    await expect(fs.readdir(dir)).resolves.toEqual([]);
    const result = await publish(model, {
      target: "compose",
      outputDir: path.join(dir, "deploy"),
      rootDir: dir,
      log: () => {},
      digests: () => Promise.resolve(new Map()),
    });
    expect(result.files).toContain("docker-compose.yaml");
    const compose = await fs.readFile(path.join(dir, "deploy", "docker-compose.yaml"), "utf8");
    expect(compose).toMatch(/^ {2}db:$/m);
  });
});

describe("publishing again", () => {
  async function publishUserModel(
    model: ReturnType<typeof createApp>,
    target: "compose" | "kubernetes" = "compose",
  ) {
    const log: string[] = [];
    await publish(model, {
      target,
      outputDir: path.join(dir, "deploy"),
      rootDir: dir,
      log: (message) => log.push(message),
      digests: () => Promise.resolve(new Map()),
    });
    return log;
  }

  function model(withAdmin: boolean) {
    const app = createApp({ name: "user-project" });
    app.addPostgres("db").addDatabase("appdb");
    app.addContainer("web", "example/web:1").withHttpEndpoint(80).withHttpHealthCheck("/");
    if (withAdmin) app.addContainer("admin", "example/admin:1").withHttpEndpoint(80);
    return app;
  }

  it("keeps what the user edited in .env, adds new keys, and keeps and reports keys the model dropped", async () => {
    await publishUserModel(model(false));
    const env = path.join(dir, "deploy", ".env");
    const first = parseEnvFile(await fs.readFile(env, "utf8"));
    // Precondition: the generated defaults the user then edits.
    expect(first.get("APPHOST_BIND_ADDRESS")).toBe("127.0.0.1");
    expect(first.get("WEB_HTTP_PORT")).toBe("8080");
    expect(first.has("ADMIN_HTTP_PORT")).toBe(false);
    const edited = (await fs.readFile(env, "utf8"))
      .replace("APPHOST_BIND_ADDRESS=127.0.0.1", "APPHOST_BIND_ADDRESS=0.0.0.0")
      .replace("WEB_HTTP_PORT=8080", "WEB_HTTP_PORT=9090")
      .replace(/^SECRET_DB_PASSWORD=.*$/m, "SECRET_DB_PASSWORD=mySecret")
      .replace("# APPHOST_IMAGE_WEB=", "APPHOST_IMAGE_WEB=registry.example/web:2 #");
    await fs.writeFile(env, `${edited}MY_SETTING=1\n`);

    const log = await publishUserModel(model(true));
    const second = parseEnvFile(await fs.readFile(env, "utf8"));
    expect(second.get("APPHOST_BIND_ADDRESS")).toBe("0.0.0.0");
    expect(second.get("WEB_HTTP_PORT")).toBe("9090");
    expect(second.get("SECRET_DB_PASSWORD")).toBe("mySecret");
    expect(second.get("APPHOST_IMAGE_WEB")).toMatch(/^registry\.example\/web:2 #/);
    // New in the model: added with its default.
    expect(second.get("ADMIN_HTTP_PORT")).toBe("8081");
    expect(second.get("MY_SETTING")).toBe("1");
    expect(log.join("\n")).toContain(".env: kept MY_SETTING from the previous file");
    expect((await fs.stat(env)).mode & 0o777).toBe(0o600);

    // A key the model no longer writes stays, and is reported.
    const third = await publishUserModel(model(false));
    expect(parseEnvFile(await fs.readFile(env, "utf8")).get("ADMIN_HTTP_PORT")).toBe("8081");
    expect(third.join("\n")).toContain(".env: kept ADMIN_HTTP_PORT, MY_SETTING from the previous file");
  });

  it("appends its entry to the user's .gitignore and leaves the user's lines as they are", async () => {
    await fs.mkdir(path.join(dir, "deploy"));
    await fs.writeFile(path.join(dir, "deploy", ".gitignore"), "# mine\nnotes/\n*.bak");
    await publishUserModel(model(false), "kubernetes");
    await publishUserModel(model(false), "kubernetes");
    expect(await fs.readFile(path.join(dir, "deploy", ".gitignore"), "utf8")).toBe(
      "# mine\nnotes/\n*.bak\nsecrets.env\n",
    );
  });

  it("says which resources it leaves out", async () => {
    const app = model(false);
    app.addExecutable("tool", "python3", ["-m", "http.server"]);
    const log = await publishUserModel(app);
    expect(log).toContainEqual(
      expect.stringMatching(/^tool: an executable runs on the host; not published — /),
    );
    const compose = await fs.readFile(path.join(dir, "deploy", "docker-compose.yaml"), "utf8");
    expect(compose).toMatch(/^# tool: an executable runs on the host; not published — /m);
  });
});
