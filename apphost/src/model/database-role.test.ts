import { describe, expect, it } from "vitest";
import { createApp } from "./app-builder.js";

// Which role of a referenced database each resource connects as (runtime/postgres-roles.ts).
describe("withReference(db, { role })", () => {
  function withDatabase() {
    const model = createApp({ name: "roles" });
    return { model, db: model.addPostgres("pg").addDatabase("appdb") };
  }

  it("gives a plain app and an executable the owner by default, the runtime role on request", () => {
    const { model, db } = withDatabase();
    const app = model.addNodeApp("web", "web", { entry: "server.js" }).withReference(db);
    const tool = model.addExecutable("tool", "python3").withReference(db, { role: "runtime" });
    expect(app.databaseRole("appdb")).toBe("owner");
    expect(tool.databaseRole("appdb")).toBe("runtime");
  });

  it("gives a service the runtime role; the owner only to one without a migrations step", () => {
    const { model, db } = withDatabase();
    expect(model.addNodeService("svc", "svc").withReference(db).databaseRole("appdb")).toBe("runtime");
    const own = model.addNodeService("own", "own").withReference(db, { role: "owner" });
    expect(own.databaseRole("appdb")).toBe("owner");
    expect(() => own.withMigrations()).toThrow(/"own" declares withMigrations.*drop \{ role: "owner" \}/);
    const migrated = model.addNodeService("migrated", "migrated").withMigrations();
    expect(() => migrated.withReference(db, { role: "owner" })).toThrow(/only its migrations step/);
  });

  it("refuses a role for anything but a database, and an unknown role", () => {
    const { model, db } = withDatabase();
    const broker = model.addArtemis("broker");
    const app = model.addNodeApp("web", "web", { entry: "server.js" });
    expect(() => app.withReference(broker, { role: "owner" })).toThrow(/only a database has roles/);
    expect(() => app.withReference(db, { role: "admin" as "owner" })).toThrow(/must be "owner" or "runtime"/);
  });
});
