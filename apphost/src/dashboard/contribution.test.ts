import { describe, expect, it } from "vitest";
import { z } from "zod";
import { createApp } from "../model/app-builder.js";
import {
  ContributionError,
  ContributionRegistry,
  type ContributedRoute,
  type ContributionContext,
  type DashboardContribution,
} from "./contribution.js";

const context: ContributionContext = {
  resources: () => [],
  environmentOf: () => undefined,
  telemetry: { spans: () => [], logs: () => [], traceIdsWhere: () => [] },
  signal: new AbortController().signal,
};

function contribution(
  name: string,
  parts: Partial<Omit<DashboardContribution, "activate">> & { routes?: ContributedRoute[] } = {},
): DashboardContribution {
  return {
    name,
    pages: parts.pages ?? [],
    tools: parts.tools ?? [],
    activate: () => ({ routes: parts.routes ?? [] }),
  };
}

const route = (method: "GET" | "POST", path: string): ContributedRoute => ({
  method,
  path,
  handle: () => Promise.resolve({ status: 200, json: path }),
});

describe("dashboard contributions", () => {
  it("a model has none until it adds one, and refuses the same one twice", () => {
    const app = createApp();
    expect(app.dashboardContributions()).toEqual([]);
    app.addDashboardContribution(contribution("queues"));
    expect(app.dashboardContributions().map((c) => c.name)).toEqual(["queues"]);
    expect(() => app.addDashboardContribution(contribution("queues"))).toThrow(
      'dashboard contribution "queues": is declared twice',
    );
  });

  it("refuses pages and tools that would shadow the dashboard's own or another contribution's", () => {
    const page = (id: string) => ({ id, title: id, module: `/x/${id}.js` });
    const tool = (name: string) => ({
      name,
      title: name,
      description: name,
      inputSchema: { id: z.string() },
      path: () => "/api/x",
    });
    const app = createApp().addDashboardContribution(
      contribution("a", { pages: [page("queues")], tools: [tool("queue_depth")] }),
    );
    const refused = (c: DashboardContribution) => () => app.addDashboardContribution(c);
    expect(refused(contribution("b", { pages: [page("traces")] }))).toThrow(
      /page "traces" is one of the dashboard's own/,
    );
    expect(refused(contribution("b", { pages: [page("api")] }))).toThrow(/one of the dashboard's own/);
    expect(refused(contribution("b", { pages: [page("queues")] }))).toThrow(/already contributed/);
    expect(refused(contribution("b", { pages: [page("Bad Id")] }))).toThrow(/lower-case letters/);
    expect(refused(contribution("b", { pages: [{ id: "x", title: "x", module: "/x.ts" }] }))).toThrow(
      /must be a \.js file/,
    );
    expect(refused(contribution("b", { tools: [tool("get_trace")] }))).toThrow(/one of the AppHost's own/);
    expect(refused(contribution("b", { tools: [tool("queue_depth")] }))).toThrow(/already contributed/);
    expect(app.dashboardContributions()).toHaveLength(1);
  });

  it("matches routes by method and literal segments, handing over the :params", () => {
    const registry = new ContributionRegistry([
      contribution("a", { routes: [route("GET", "queues"), route("POST", "queues/:name/purge")] }),
    ]);
    // Nothing answers before activation.
    expect(registry.match("GET", ["queues"])).toBeUndefined();
    registry.activate(context);
    expect(registry.match("GET", ["queues"])?.route.path).toBe("queues");
    expect(registry.match("POST", ["queues", "orders", "purge"])?.params).toEqual({ name: "orders" });
    expect(registry.match("GET", ["queues", "orders", "purge"])).toBeUndefined();
    expect(registry.match("POST", ["queues", "", "purge"])).toBeUndefined();
    expect(registry.match("GET", ["queues", "extra"])).toBeUndefined();
    expect(registry.match("GET", ["journey"])).toBeUndefined();
  });

  it("refuses routes under the dashboard's own API or taken by another contribution", () => {
    const activate =
      (...routes: ContributedRoute[][]) =>
      () =>
        new ContributionRegistry(routes.map((r, i) => contribution(`c${i}`, { routes: r }))).activate(
          context,
        );
    expect(activate([route("GET", "resources/extra")])).toThrow(ContributionError);
    expect(activate([route("GET", "resources/extra")])).toThrow(
      /\/api\/resources, one of the dashboard's own/,
    );
    expect(activate([route("GET", ":any")])).toThrow(/literal segment/);
    expect(activate([route("GET", "a/../b")])).toThrow(/segments/);
    expect(activate([route("GET", "q/:x")], [route("GET", "q/:y")])).toThrow(/already contributed/);
    // Same path, another method: two routes.
    expect(activate([route("GET", "q/:x")], [route("POST", "q/:x")])).not.toThrow();
  });

  it("links each contributed page in the navigation with its module, its title escaped", () => {
    const registry = new ContributionRegistry([
      contribution("a", { pages: [{ id: "queues", title: "Queues <&>", module: "/x/queues.js" }] }),
    ]);
    expect(registry.navigationHtml()).toBe(
      '<a href="/queues" data-nav="queues" data-module="/assets/pages/queues.js">Queues &#60;&#38;&#62;</a>',
    );
    expect(registry.page("queues")?.module).toBe("/x/queues.js");
    expect(registry.page("traces")).toBeUndefined();
    expect(new ContributionRegistry().navigationHtml()).toBe("");
  });
});
