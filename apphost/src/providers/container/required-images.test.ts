import { describe, expect, it } from "vitest";
import { defineResourceKind, lazyProvider } from "../../kinds/resource-kind.js";
import { createApp } from "../../model/app-builder.js";
import { Resource } from "../../model/resource.js";
import { requiredImages } from "./required-images.js";

/** A kind a user declares in their own file: its resources run one image each. */
class RedisResource extends Resource {
  constructor(
    name: string,
    readonly image: string,
  ) {
    super(name, redisKind);
  }
}

const redisKind = defineResourceKind<RedisResource>({
  name: "redis",
  containerProvider: () =>
    lazyProvider<RedisResource>(() => Promise.reject(new Error("not started in this test"))),
  images: (redis) => [{ fallback: redis.image }],
});

describe("requiredImages", () => {
  it("asks each resource's kind module, so a kind declared outside the package is checked too", () => {
    const model = createApp({ name: "images" });
    model.addResource(new RedisResource("cache", "redis:7"));
    expect(requiredImages(model, {})).toEqual([{ resource: "cache", image: "redis:7", source: "default" }]);
    expect(requiredImages(model, { APPHOST_IMAGE_CACHE: "mine/redis:7" })).toEqual([
      { resource: "cache", image: "mine/redis:7", source: "APPHOST_IMAGE_CACHE" },
    ]);
  });

  it("lists the built-in kinds' images after overrides, and nothing for a Dockerfile or a host process", () => {
    const model = createApp({ name: "images" });
    model.addPostgres("pg").withImage("postgres", "16");
    model.addArtemis("broker");
    model.addContainer("web", "nginx:1.27");
    model.addJaeger();
    model.addDockerfile("site", "site");
    model.addExecutable("tool", "python3");
    const env = { APPHOST_IMAGE_ARTEMIS: "local/artemis:2" };
    expect(requiredImages(model, env)).toEqual([
      { resource: "pg", image: "postgres:16", source: "withImage()" },
      { resource: "broker", image: "local/artemis:2", source: "APPHOST_IMAGE_ARTEMIS" },
      { resource: "web", image: "nginx:1.27", source: "default" },
      { resource: "jaeger", image: "jaegertracing/jaeger:2.11.0", source: "default" },
    ]);
  });
});
