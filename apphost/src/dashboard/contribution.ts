// Dashboard contributions: what a model adds to the generic dashboard beyond resources, console,
// logs, traces, metrics and the graph — API routes, pages with their navigation links, and MCP
// tools. A model declares them (`app.addDashboardContribution(...)`); a model without them gets
// none of their routes, pages or tools. The dashboard knows only this interface, never a
// particular contribution.

import type { ZodRawShape } from "zod";
import type { ResourceSnapshot } from "../runtime/distributed-application.js";
import type { LogRecord, SpanRecord } from "./otlp-json.js";

/** What a contribution may read of the running application and of the telemetry the dashboard holds. */
export interface ContributionContext {
  resources(): ResourceSnapshot[];
  /** The environment the AppHost gave a resource (undefined when unknown). */
  environmentOf(resource: string): Readonly<Record<string, string>> | undefined;
  telemetry: {
    spans(traceId: string): SpanRecord[];
    logs(traceId: string): LogRecord[];
    /** Trace ids whose spans carry `attribute` = `value`, newest first. */
    traceIdsWhere(attribute: string, value: string): string[];
  };
  /** Aborted when the dashboard closes: a contribution's background work stops on it. */
  signal: AbortSignal;
}

export interface ContributedRequest {
  /** The `:name` segments of the route's path, decoded. */
  params: Readonly<Record<string, string>>;
  query: URLSearchParams;
}

/** A JSON answer, or a body passed through as it came (e.g. a service's own answer to an action). */
export type ContributedResponse =
  { status: number; json: unknown } | { status: number; text: string; contentType: string };

export interface ContributedRoute {
  /**
   * GET reads; POST is an action, accepted only from the dashboard's own origin or a tool
   * (the same guard as the core actions).
   */
  method: "GET" | "POST";
  /** Below /api/: literal segments and `:name` parameters, e.g. `messaging/:resource/replay/:action`. */
  path: string;
  handle(request: ContributedRequest): Promise<ContributedResponse>;
}

export interface ContributedPage {
  /** The page's URL (`/<id>`) and its navigation key. */
  id: string;
  /** The navigation link's text. */
  title: string;
  /**
   * Absolute path of a browser ES module served as `/assets/pages/<id>.js`; its default export
   * renders the page: `(main: HTMLElement) => Promise<void> | void`. It imports the dashboard's
   * helpers from `/assets/app.js`.
   */
  module: string;
}

/** An MCP tool (`apphost mcp`) answered by one of the contribution's GET routes. */
export interface ContributedTool {
  name: string;
  title: string;
  description: string;
  inputSchema: ZodRawShape;
  /** The dashboard path (starting with /api/) that answers a call with these arguments. */
  path(input: Record<string, unknown>): string;
}

/** A contribution while a dashboard shows a running application. */
export interface ActiveContribution {
  routes: readonly ContributedRoute[];
  /** Resolves once its background work has ended (after the context's signal aborted). */
  stopped?(): Promise<void>;
}

export interface DashboardContribution {
  /** Unique per model; named in errors. */
  readonly name: string;
  readonly pages: readonly ContributedPage[];
  readonly tools: readonly ContributedTool[];
  /** Called when a dashboard attaches the running application. */
  activate(context: ContributionContext): ActiveContribution;
}

/** The dashboard's own pages and routes: a contribution cannot take their names. */
const CORE_PAGES = ["resources", "console", "traces", "logs", "metrics", "graph"];
const RESERVED_PAGES = new Set([...CORE_PAGES, "login", "logout", "api", "assets", "v1"]);
const CORE_API = new Set(["resources", "console", "traces", "logs", "metrics", "telemetry", "services"]);
export const CORE_TOOLS = new Set([
  "list_resources",
  "console_logs",
  "structured_logs",
  "list_traces",
  "get_trace",
  "restart_resource",
]);
const SLUG = /^[a-z][a-z0-9-]*$/;
const SEGMENT = /^(:[a-zA-Z][a-zA-Z0-9]*|[a-zA-Z0-9][a-zA-Z0-9._-]*)$/;

/** A contribution that cannot be served as declared: thrown when the model declares it. */
export class ContributionError extends Error {}

/**
 * Checks that `added` fits beside `existing`: well-formed names and paths, nothing taken twice,
 * nothing that shadows the dashboard's own pages, routes or tools.
 */
export function assertContributionFits(
  existing: readonly DashboardContribution[],
  added: DashboardContribution,
): void {
  const fail = (message: string): never => {
    throw new ContributionError(`dashboard contribution "${added.name}": ${message}`);
  };
  if (!added.name) fail("has no name");
  if (existing.some((c) => c.name === added.name)) fail("is declared twice");
  const pages = new Set(existing.flatMap((c) => c.pages.map((p) => p.id)));
  for (const page of added.pages) {
    if (!SLUG.test(page.id)) fail(`page id "${page.id}" must be lower-case letters, digits and dashes`);
    if (RESERVED_PAGES.has(page.id)) fail(`page "${page.id}" is one of the dashboard's own`);
    if (pages.has(page.id)) fail(`page "${page.id}" is already contributed`);
    if (!page.module.endsWith(".js")) fail(`page "${page.id}": its module must be a .js file`);
    pages.add(page.id);
  }
  const tools = new Set(existing.flatMap((c) => c.tools.map((t) => t.name)));
  for (const tool of added.tools) {
    if (CORE_TOOLS.has(tool.name)) fail(`tool "${tool.name}" is one of the AppHost's own`);
    if (tools.has(tool.name)) fail(`tool "${tool.name}" is already contributed`);
    tools.add(tool.name);
  }
}

/** Checks a contribution's routes once it is active (they exist only then). */
function assertRoutes(name: string, routes: readonly ContributedRoute[], taken: Set<string>): void {
  for (const route of routes) {
    const segments = route.path.split("/");
    const first = segments[0] ?? "";
    const problem = !segments.every((s) => SEGMENT.test(s))
      ? "must be segments of letters, digits, . _ - or :params"
      : first.startsWith(":")
        ? "must start with a literal segment"
        : CORE_API.has(first)
          ? `uses /api/${first}, one of the dashboard's own`
          : taken.has(routeKey(route))
            ? "is already contributed"
            : undefined;
    if (problem)
      throw new ContributionError(
        `dashboard contribution "${name}": route ${route.method} ${route.path} ${problem}`,
      );
    taken.add(routeKey(route));
  }
}

/** Two routes clash when they have the same method and the same literal segments. */
function routeKey(route: ContributedRoute): string {
  return `${route.method} ${route.path
    .split("/")
    .map((s) => (s.startsWith(":") ? ":" : s))
    .join("/")}`;
}

export interface MatchedRoute {
  route: ContributedRoute;
  params: Record<string, string>;
}

/** The contributions of one attached application, active: their routes, pages and shutdown. */
export class ContributionRegistry {
  private readonly active: ActiveContribution[] = [];
  private readonly routes: ContributedRoute[] = [];

  constructor(readonly contributions: readonly DashboardContribution[] = []) {
    contributions.forEach((c, i) => assertContributionFits(contributions.slice(0, i), c));
  }

  /** Activates every contribution with `context`; their routes answer from now on. */
  activate(context: ContributionContext): void {
    const taken = new Set<string>();
    for (const contribution of this.contributions) {
      const active = contribution.activate(context);
      assertRoutes(contribution.name, active.routes, taken);
      this.active.push(active);
      this.routes.push(...active.routes);
    }
  }

  pages(): ContributedPage[] {
    return this.contributions.flatMap((c) => c.pages);
  }

  page(id: string): ContributedPage | undefined {
    return this.pages().find((p) => p.id === id);
  }

  /** The route answering `method` on `/api/<segments>`, with its parameters. */
  match(method: string, segments: readonly string[]): MatchedRoute | undefined {
    for (const route of this.routes) {
      if (route.method !== method) continue;
      const pattern = route.path.split("/");
      if (pattern.length !== segments.length) continue;
      const params: Record<string, string> = {};
      const matches = pattern.every((part, i) => {
        const segment = segments[i] ?? "";
        if (!part.startsWith(":")) return part === segment;
        params[part.slice(1)] = segment;
        return segment !== "";
      });
      if (matches) return { route, params };
    }
    return undefined;
  }

  /** Navigation links for the contributed pages (the page's module URL rides along for app.js). */
  navigationHtml(): string {
    return this.pages()
      .map(
        (p) =>
          `<a href="/${p.id}" data-nav="${p.id}" data-module="/assets/pages/${p.id}.js">${escapeHtml(p.title)}</a>`,
      )
      .join("\n        ");
  }

  async stopped(): Promise<void> {
    await Promise.all(this.active.map((a) => a.stopped?.() ?? Promise.resolve()));
  }
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
