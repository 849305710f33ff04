/**
 * Which methods each route path answers, so that a request for a known path with another method
 * gets 405 Method Not Allowed with an `Allow` header (RFC 9110) instead of 404.
 */
export class AllowedMethods {
  private readonly routes: Array<{ pattern: RegExp; methods: Set<string> }> = [];

  /** `path` in Express style ("/api/items/:id"); `method` in any case. */
  add(path: string, method: string): void {
    const source = `^${path
      .split("/")
      .map((segment) => (segment.startsWith(":") ? "[^/]+" : escapeRegExp(segment)))
      .join("/")}/?$`;
    let route = this.routes.find((r) => r.pattern.source === source);
    if (route === undefined) {
      route = { pattern: new RegExp(source), methods: new Set() };
      this.routes.push(route);
    }
    route.methods.add(method.toUpperCase());
    // A GET route answers HEAD too (Express does), and every route answers OPTIONS with Allow.
    if (method.toUpperCase() === "GET") route.methods.add("HEAD");
  }

  /** The methods `path` answers (sorted), or undefined when no route has this path. */
  allowed(path: string): string[] | undefined {
    const methods = new Set<string>();
    for (const route of this.routes)
      if (route.pattern.test(path)) for (const m of route.methods) methods.add(m);
    return methods.size === 0 ? undefined : [...methods].sort();
  }
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
