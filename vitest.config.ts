import { defaultServerConditions } from "vite";
import { defineConfig } from "vitest/config";

/** Tests whose subject is the running system, run once per provider mode. */
const MODE_SENSITIVE = [
  "test/system.test.ts",
  "test/system-kafka.test.ts",
  "test/resilience.test.ts",
  "test/no-secrets-on-argv.test.ts",
];

/**
 * Workspace packages resolve to their TypeScript sources (their exports' "outbox-source"
 * condition), so that tests need no build step. Tests run in Vite's SSR environment, hence
 * `ssr.resolve`; each project takes it, as projects do not inherit the root's options.
 */
const conditions = ["outbox-source", ...defaultServerConditions];
const sources = { ssr: { resolve: { conditions } } };

export default defineConfig({
  test: {
    // Integration tests start real PostgreSQL and Artemis processes; this machine has 2 cores,
    // so files run one at a time and the summary lists every test.
    fileParallelism: false,
    reporters: ["default", "./test/support/summary-reporter.ts"],
    projects: [
      {
        ...sources,
        test: {
          name: "unit",
          include: ["*/src/**/*.test.ts"],
          testTimeout: 20_000,
          // A few unit files start a child process (the MCP server through tsx): slow on a busy machine.
          hookTimeout: 60_000,
        },
      },
      {
        ...sources,
        test: {
          name: "integration",
          include: ["test/**/*.test.ts"],
          env: { APPHOST_TEST_MODE: "process" },
          testTimeout: 180_000,
          hookTimeout: 300_000,
        },
      },
      {
        ...sources,
        // The same files with PostgreSQL and Artemis in containers (Testcontainers, real engine).
        test: {
          name: "integration-container",
          include: MODE_SENSITIVE,
          env: { APPHOST_TEST_MODE: "container" },
          globalSetup: ["./test/support/container-mode-setup.ts"],
          testTimeout: 180_000,
          hookTimeout: 300_000,
        },
      },
    ],
  },
});
