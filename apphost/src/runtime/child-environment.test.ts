import { describe, expect, it } from "vitest";
import { childEnvironment } from "./child-environment.js";

describe("child environment", () => {
  const parent = {
    PATH: "/usr/bin",
    HOME: "/home/dev",
    LANG: "C.UTF-8",
    LC_ALL: "C",
    AWS_SECRET_ACCESS_KEY: "leak",
    GITHUB_TOKEN: "leak",
    DATABASE_URL: "postgres://prod",
    MY_FLAG: "1",
    CORP_PROXY_HOST: "proxy",
    CORP_PROXY_PORT: "3128",
  };

  it("keeps PATH, HOME and the locale, drops everything else of the AppHost's environment", () => {
    const env = childEnvironment({ PORT: "1", ADMIN_TOKEN: "t" }, parent);
    expect(env).toEqual({
      PATH: "/usr/bin",
      HOME: "/home/dev",
      LANG: "C.UTF-8",
      LC_ALL: "C",
      PORT: "1",
      ADMIN_TOKEN: "t",
    });
  });

  it("passes names and PREFIX_* patterns of the allowlist; injected variables win", () => {
    const env = childEnvironment(
      { PATH: "/injected" },
      { ...parent, APPHOST_CHILD_ENV_ALLOWLIST: "MY_FLAG, CORP_PROXY_*" },
    );
    expect(env).toMatchObject({
      MY_FLAG: "1",
      CORP_PROXY_HOST: "proxy",
      CORP_PROXY_PORT: "3128",
      PATH: "/injected",
    });
    expect(env.AWS_SECRET_ACCESS_KEY).toBeUndefined();
    expect(env.DATABASE_URL).toBeUndefined();
  });
});
