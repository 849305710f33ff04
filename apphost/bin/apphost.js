#!/usr/bin/env node
// The `apphost` command. The package still ships its TypeScript sources, so this launcher registers
// tsx (a dependency of the package) before it loads the CLI; the user needs no `--import tsx`.
import { register } from "tsx/esm/api";

register();
await import("../src/cli.ts");
