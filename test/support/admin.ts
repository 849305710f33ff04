import type { DistributedApplication } from "@outbox/apphost";

// The services' admin APIs need the bearer token the AppHost generated and injected (ADMIN_TOKEN).
// Tests register their application once; adminFetch then finds the token of whichever service a
// URL points at, also after a restart moved it.

const apps = new Set<DistributedApplication>();

export function useAdminTokens(app: DistributedApplication): void {
  apps.add(app);
}

export function adminTokenFor(url: string): string | undefined {
  // Newest application first: a test that stops an application and starts another on the same
  // state directory gets the same ports back, and the stopped one must not answer for them.
  for (const app of [...apps].reverse())
    for (const resource of app.snapshot()) {
      const base = resource.endpoints.http;
      if (base && (url === base || url.startsWith(`${base}/`))) {
        const token = app.environmentOf(resource.name)?.ADMIN_TOKEN;
        if (token !== undefined) return token;
      }
    }
  return undefined;
}

/** fetch with `Authorization: Bearer <the target service's admin token>`. */
export function adminFetch(url: string, init: RequestInit = {}): Promise<Response> {
  const token = adminTokenFor(url);
  const headers = new Headers(init.headers);
  if (token !== undefined && !headers.has("authorization")) headers.set("authorization", `Bearer ${token}`);
  return fetch(url, { ...init, headers });
}
