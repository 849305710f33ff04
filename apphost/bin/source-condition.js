// Module resolution hook for a checkout of this repository (see apphost.js): resolves packages
// with the "outbox-source" export condition, which points @outbox/apphost at its TypeScript sources.
export async function resolve(specifier, context, nextResolve) {
  return nextResolve(specifier, { ...context, conditions: [...context.conditions, "outbox-source"] });
}
