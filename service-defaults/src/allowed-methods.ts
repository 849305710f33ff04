/**
 * Which methods each route path answers, so that a request for a known path with another method
 * gets 405 Method Not Allowed with an `Allow` header (RFC 9110) instead of 404.
 *
 * Where several path templates match a URL, the most specific one decides, as in OpenAPI: a
 * literal segment wins over a parameter ("/api/DeadLetters/count" over "/api/DeadLetters/{id}"),
 * so `DELETE /api/DeadLetters/count` is a 405 listing what the count path answers.
 */
export class AllowedMethods {
  private readonly routes: Array<{
    source: string;
    pattern: RegExp;
    literals: boolean[];
    methods: Set<string>;
  }> = [];

  /** `path` in Express style ("/api/items/:id"); `method` in any case. */
  add(path: string, method: string): void {
    const segments = path.split("/");
    // Case-insensitive like Express' routing, with an optional trailing slash (Express' default).
    const source = `^${segments
      .map((segment) => (segment.startsWith(":") ? "[^/]+" : escapeRegExp(segment)))
      .join("/")}/?$`;
    let route = this.routes.find((r) => r.source === source);
    if (route === undefined) {
      route = {
        source,
        pattern: new RegExp(source, "i"),
        literals: segments.map((segment) => !segment.startsWith(":")),
        methods: new Set(),
      };
      this.routes.push(route);
    }
    route.methods.add(method.toUpperCase());
    // A GET route answers HEAD too (Express does).
    if (method.toUpperCase() === "GET") route.methods.add("HEAD");
  }

  /** The methods `path` answers (sorted), or undefined when no route has this path. */
  allowed(path: string): string[] | undefined {
    let best: (typeof this.routes)[number] | undefined;
    for (const route of this.routes)
      if (route.pattern.test(path) && (best === undefined || moreSpecific(route.literals, best.literals)))
        best = route;
    return best === undefined ? undefined : [...best.methods].sort();
  }
}

/** Whether template `a` is more specific than `b`: the first segment where they differ is literal in `a`. */
function moreSpecific(a: boolean[], b: boolean[]): boolean {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i] === true;
  return false;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
