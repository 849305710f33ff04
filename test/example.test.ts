import { describe, expect, it } from "vitest";
import { exactlyOnceProblems, runExample } from "./example/run-example.js";

// `npm run example` inside `npm test`: the packed library installed into a copy of
// examples/express-outbox outside the workspace, run against real PostgreSQL and Artemis.

describe("examples/express-outbox with the packed @outbox/messaging", () => {
  it("applies each of 20 posted notes exactly once", async () => {
    const lines: string[] = [];
    const result = await runExample({ notes: 20, log: (line) => lines.push(line) });
    console.log(`example: ${lines.join(", ")}`);
    expect(result).toMatchObject({ posted: 20, projected: 20, inboxRows: 20 });
  }, 900_000);
});

describe("exactlyOnceProblems: what the runner calls a failure", () => {
  const posted = ["a", "b"];
  it("accepts every note projected once with one inbox row each", () => {
    expect(
      exactlyOnceProblems(
        posted,
        [
          { id: "a", applied: 1 },
          { id: "b", applied: 1 },
        ],
        2,
      ),
    ).toEqual([]);
  });
  it("names a note applied twice, a missing one, a stray one and a wrong inbox count", () => {
    expect(
      exactlyOnceProblems(
        posted,
        [
          { id: "a", applied: 2 },
          { id: "c", applied: 1 },
        ],
        3,
      ),
    ).toEqual([
      "1 posted notes never projected: b",
      "1 projected notes were never posted",
      "applied more than once: a ×2",
      "3 inbox rows for 2 events",
    ]);
  });
});
