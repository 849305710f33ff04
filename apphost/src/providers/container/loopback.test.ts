import { describe, expect, it } from "vitest";
import { connectThroughLoopback } from "./loopback.js";

describe("connectThroughLoopback", () => {
  it("points testcontainers' readiness checks at 127.0.0.1 for a local engine", () => {
    const env: NodeJS.ProcessEnv = {};
    connectThroughLoopback(env);
    expect(env.TESTCONTAINERS_HOST_OVERRIDE).toBe("127.0.0.1");
    const unix: NodeJS.ProcessEnv = { DOCKER_HOST: "unix:///var/run/docker.sock" };
    connectThroughLoopback(unix);
    expect(unix.TESTCONTAINERS_HOST_OVERRIDE).toBe("127.0.0.1");
  });

  it("keeps a user's override and a remote engine's host", () => {
    const own: NodeJS.ProcessEnv = { TESTCONTAINERS_HOST_OVERRIDE: "10.0.0.5" };
    connectThroughLoopback(own);
    expect(own.TESTCONTAINERS_HOST_OVERRIDE).toBe("10.0.0.5");
    const remote: NodeJS.ProcessEnv = { DOCKER_HOST: "tcp://build-box:2375" };
    connectThroughLoopback(remote);
    expect(remote.TESTCONTAINERS_HOST_OVERRIDE).toBeUndefined();
  });
});
