import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    // Integration tests start real PostgreSQL and Artemis processes; this machine has 2 cores,
    // so files run one at a time and the summary lists every test.
    fileParallelism: false,
    reporters: ["default", "./test/support/summary-reporter.ts"],
    projects: [
      {
        test: {
          name: "unit",
          include: ["*/src/**/*.test.ts"],
          testTimeout: 20_000,
        },
      },
      {
        test: {
          name: "integration",
          include: ["test/**/*.test.ts"],
          testTimeout: 180_000,
          hookTimeout: 300_000,
        },
      },
    ],
  },
});
