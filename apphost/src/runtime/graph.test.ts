import { describe, expect, it } from "vitest";
import { createApp } from "../model/app-builder.js";
import { dependentsOf, startOrder } from "./graph.js";

describe("startOrder", () => {
  it("puts every resource after what it waits for, databases after their server", () => {
    const app = createApp();
    const db = app.addPostgres("pg").addDatabase("db");
    const broker = app.addArtemis("broker");
    app.addNodeService("svc", "svc").withReference(db).waitFor(db).waitFor(broker);
    const names = startOrder(app.resources()).map((r) => r.name);
    expect(names.indexOf("pg")).toBeLessThan(names.indexOf("db"));
    expect(names.indexOf("db")).toBeLessThan(names.indexOf("svc"));
    expect(names.indexOf("broker")).toBeLessThan(names.indexOf("svc"));
    expect(names).toHaveLength(4);
  });

  it("names the cycle instead of waiting forever", () => {
    const app = createApp();
    const a = app.addNodeService("a", "a");
    const b = app.addNodeService("b", "b").waitFor(a);
    a.waitFor(b);
    expect(() => startOrder(app.resources())).toThrow(/cycle: (a -> b -> a|b -> a -> b)/);
  });

  it("finds direct and indirect dependents", () => {
    const app = createApp();
    const pg = app.addPostgres("pg");
    const db = pg.addDatabase("db");
    app.addNodeService("svc", "svc").waitFor(db);
    app.addArtemis("broker");
    expect(
      dependentsOf(pg, app.resources())
        .map((r) => r.name)
        .sort(),
    ).toEqual(["db", "svc"]);
  });
});

describe("the model", () => {
  it("rejects bad and duplicate names", () => {
    const app = createApp();
    expect(() => app.addArtemis("Broker_1")).toThrow(/Invalid resource name/);
    app.addArtemis("broker");
    expect(() => app.addArtemis("broker")).toThrow(/declared twice/);
    expect(() => app.addNodeService("svc", "svc").withHttpHealthCheck("health")).toThrow(/must start with/);
  });
});
