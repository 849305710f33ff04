import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createApp } from "../model/app-builder.js";
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
