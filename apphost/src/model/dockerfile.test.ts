import { describe, expect, it } from "vitest";
import { createApp } from "./app-builder.js";
import { ContainerResource } from "./container.js";

describe("addDockerfile", () => {
  it("is a container resource built from a context directory, with the Dockerfile and build arguments", () => {
    const app = createApp();
    const web = app
      .addDockerfile("web", "images/web", {
        dockerfile: "docker/Dockerfile.dev",
        buildArgs: { VERSION: "1" },
      })
      .withHttpEndpoint(8080)
      .withHttpHealthCheck("/health")
      .withReplicas(2);
    expect(web).toBeInstanceOf(ContainerResource);
    expect(web.kind).toBe("container");
    expect(web.contextDir).toBe("images/web");
    expect(web.resolveContext("/repo")).toBe("/repo/images/web");
    expect(web.dockerfile).toBe("docker/Dockerfile.dev");
    expect(web.buildArgs).toEqual({ VERSION: "1" });
    expect(web.replicaNames()).toEqual(["web-0", "web-1"]);
    expect(app.addDockerfile("api", "/abs/api").dockerfile).toBe("Dockerfile");
  });

  it("refuses bad input with a message naming the culprit", () => {
    const app = createApp();
    expect(() => app.addDockerfile("a", "")).toThrow(/"a" needs a build context/);
    expect(() => app.addDockerfile("b", "ctx", { dockerfile: "../Dockerfile" })).toThrow(
      /Dockerfile of "b" must be a path inside its context/,
    );
    expect(() => app.addDockerfile("c", "ctx", { dockerfile: "/etc/Dockerfile" })).toThrow(
      /inside its context/,
    );
    expect(() => app.addDockerfile("d", "ctx", { buildArgs: { "BAD-NAME": "x" } })).toThrow(
      /Invalid build argument name "BAD-NAME" on "d"/,
    );
    expect(() => app.addDockerfile("e", "ctx").withImage()).toThrow(/built from a Dockerfile/);
  });
});

describe("withReplicas on containers", () => {
  it("names each replica after the resource and refuses counts out of range", () => {
    const cache = createApp().addContainer("cache", "redis:7");
    expect(cache.replicas).toBe(1);
    expect(cache.withReplicas(3).replicaNames()).toEqual(["cache-0", "cache-1", "cache-2"]);
    expect(() => cache.withReplicas(0)).toThrow(
      /Replica count of "cache" must be an integer from 1 to 64 \(got 0\)/,
    );
    expect(() => cache.withReplicas(1.5)).toThrow(/got 1.5/);
  });
});
