import { describe, expect, it } from "vitest";
import { buildApp } from "../../../apphost.js";
import { NodeServiceResource } from "./node-service.js";
import { applyReplicaOverrides, parseReplicaOverrides } from "./replica-overrides.js";

describe("--replicas", () => {
  it("sets the replica count of each named service and names the replicas <service>-<index>", () => {
    const model = buildApp();
    applyReplicaOverrides(model, parseReplicaOverrides("sender=3, receiver=2"));
    const sender = model.resource("sender") as NodeServiceResource;
    expect(sender.replicas).toBe(3);
    expect(sender.replicaNames()).toEqual(["sender-0", "sender-1", "sender-2"]);
    expect((model.resource("receiver") as NodeServiceResource).replicas).toBe(2);
  });

  it("sets the replica count of a plain node app too", () => {
    const model = buildApp();
    const web = model.addNodeApp("web", "web", { entry: "server.js" });
    applyReplicaOverrides(model, parseReplicaOverrides("web=2"));
    expect(web.replicaNames()).toEqual(["web-0", "web-1"]);
  });

  it("sets the replica count of a container and of a Dockerfile resource", () => {
    const model = buildApp();
    const cache = model.addContainer("cache", "redis:7").withEndpoint(6379);
    const site = model.addDockerfile("site", "site");
    expect(cache.replicas).toBe(1);
    applyReplicaOverrides(model, parseReplicaOverrides("cache=3,site=2"));
    expect(cache.replicaNames()).toEqual(["cache-0", "cache-1", "cache-2"]);
    expect(site.replicas).toBe(2);
  });

  it("keeps one of each service by default", () => {
    const model = buildApp();
    for (const r of model.resources()) if (r instanceof NodeServiceResource) expect(r.replicas).toBe(1);
  });

  it("refuses bad input with a message and changes nothing", () => {
    expect(() => parseReplicaOverrides("sender")).toThrow(/bad part: "sender"/);
    expect(() => parseReplicaOverrides("sender=3,sender=2")).toThrow(/twice/);
    expect(() => parseReplicaOverrides("sender=-1")).toThrow(/bad part/);
    const model = buildApp();
    expect(() => applyReplicaOverrides(model, parseReplicaOverrides("sender=2,broker=2"))).toThrow(
      /"broker" is not a service/,
    );
    expect((model.resource("sender") as NodeServiceResource).replicas).toBe(1);
    expect(() => applyReplicaOverrides(model, parseReplicaOverrides("sender=0"))).toThrow(/from 1 to 64/);
    // A bad count anywhere changes no other resource either.
    expect(() => applyReplicaOverrides(model, parseReplicaOverrides("sender=2,receiver=65"))).toThrow(
      /"receiver" must be an integer from 1 to 64/,
    );
    expect((model.resource("sender") as NodeServiceResource).replicas).toBe(1);
  });
});
