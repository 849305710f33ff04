// The text of the starter model `apphost init` writes: what a user would have written by hand for
// what was detected, one short comment per resource saying what was found where.

import type { Detection, DetectedResource } from "./init-detect.js";
import { toResourceName } from "./init-detect.js";

/** The package a user's model imports. */
export const PACKAGE_NAME = "@outbox/apphost";

/** The starter model (TypeScript, ES module) for `detection`. */
export function renderModel(detection: Detection): string {
  const appName = toResourceName(detection.projectName);
  const lines = [
    "// The application model `npx apphost` runs (written by `apphost init`: edit it freely).",
    "// Each resource below is something init found; references, databases (app.addPostgres) and",
    "// health checks (.withHttpHealthCheck) are yours to add.",
    `import { createApp } from ${quote(PACKAGE_NAME)};`,
    "",
    `const app = createApp({ name: ${quote(appName)} });`,
    "",
  ];
  if (detection.resources.length === 0) {
    lines.push(
      "// Nothing to run was detected (no package.json start script, Dockerfile, Python or Go project).",
      "// Declare your services here, for example:",
      '// app.addNodeApp("api", "api").withHttpEndpoint(); // runs the start script\'s `node <file>`',
      '// const db = app.addPostgres("pg").addDatabase("appdb");',
      "",
    );
  }
  for (const resource of detection.resources) lines.push(...renderResource(resource), "");
  lines.push("export default app;", "");
  return lines.join("\n");
}

function renderResource(detected: DetectedResource): string[] {
  // A directory name could hold a line break: it must not end the comment and become code.
  const r = { ...detected, evidence: detected.evidence.replace(/[\p{Cc}\u2028\u2029]/gu, "?") };
  const name = quote(r.name);
  const dir = quote(r.directory);
  const dockerNote = r.alsoDockerfile
    ? [`// It also has a Dockerfile: app.addDockerfile(${name}, ${dir}) would run it as a container instead.`]
    : [];
  switch (r.kind) {
    case "node-app":
      return [
        `// ${r.evidence} (run with node; PORT and HOST are injected).`,
        ...dockerNote,
        `app.addNodeApp(${name}, ${dir}).withHttpEndpoint();`,
      ];
    case "npm-script":
      return [
        `// ${r.evidence} (run with npm; PORT and HOST are injected).`,
        ...dockerNote,
        `app.addNpmScript(${name}, ${dir}, ${quote(r.script ?? "start")}).withHttpEndpoint();`,
      ];
    case "dockerfile":
      return r.exposedPort === undefined
        ? [
            `// ${r.evidence} (built and run by the container engine). It EXPOSEs no port:`,
            `// add .withHttpEndpoint(<port it listens on>) to reach it.`,
            `app.addDockerfile(${name}, ${dir});`,
          ]
        : [
            `// ${r.evidence} (built and run by the container engine).`,
            `app.addDockerfile(${name}, ${dir}).withHttpEndpoint(${r.exposedPort});`,
          ];
    case "hint":
      return renderHint(r, name, dir);
  }
}

/** How the project starts cannot be read from its files: a commented example to complete. */
function renderHint(r: DetectedResource, name: string, dir: string): string[] {
  switch (r.hint) {
    case "Python":
      return [
        `// ${r.evidence}: a Python project. Run it as an executable, for example:`,
        `// app.addExecutable(${name}, "python3", ["main.py"]).withWorkingDirectory(${dir}).withHttpEndpoint();`,
      ];
    case "Go":
      return [
        `// ${r.evidence}: a Go module. Run it as an executable, for example:`,
        `// app.addExecutable(${name}, "go", ["run", "."]).withWorkingDirectory(${dir}).withHttpEndpoint();`,
      ];
    default:
      return [
        `// ${r.evidence}: to run its development server, uncomment:`,
        `// app.addNpmScript(${name}, ${dir}, "dev").withHttpEndpoint();`,
      ];
  }
}

/** A TypeScript string literal, double-quoted as a formatter would write it. */
function quote(text: string): string {
  return JSON.stringify(text);
}
