#!/usr/bin/env node
// The `apphost` command. An installed package runs its built CLI (dist/) with plain node; tsx is
// loaded later only if the user's model file is TypeScript.
//
// In a checkout of this repository (src/ is there; the packed package ships dist/ alone) it runs
// the sources instead, so that no build step stands between an edit and a run: tsx compiles them,
// and the "outbox-source" export condition makes a model's `import "@outbox/apphost"` load the
// same sources rather than a second, built copy of the package.
import { existsSync } from "node:fs";
import { URL } from "node:url";
import { register } from "node:module";

const sources = new URL("../src/cli.ts", import.meta.url);
if (existsSync(sources)) {
  const { register: registerTsx } = await import("tsx/esm/api");
  registerTsx();
  register("./source-condition.js", import.meta.url);
  await import(sources.href);
} else {
  await import("../dist/cli.js");
}
