import { describe, expect, it } from "vitest";
import { digestFor } from "./image-digests.js";

const A = `sha256:${"a".repeat(64)}`;
const B = `sha256:${"b".repeat(64)}`;

describe("registry digests of local images", () => {
  it("takes the digest of the image's own repository, in any of Docker Hub's spellings", () => {
    expect(digestFor("postgres:15", [`postgres@${A}`])).toBe(A);
    expect(digestFor("postgres:15", [`docker.io/library/postgres@${A}`])).toBe(A);
    expect(digestFor("apache/artemis:2.56.0", [`mirror.example/artemis@${B}`, `apache/artemis@${A}`])).toBe(
      A,
    );
    expect(digestFor("registry.example:5000/team/app:1", [`registry.example:5000/team/app@${B}`])).toBe(B);
  });

  it("has none for a locally built image, another repository's digest or a malformed one", () => {
    expect(digestFor("outbox-apphost/postgres:15", [])).toBeUndefined();
    expect(digestFor("outbox-apphost/postgres:15", null)).toBeUndefined();
    expect(digestFor("postgres:15", [`mysql@${A}`])).toBeUndefined();
    expect(digestFor("postgres:15", ["postgres@sha256:short"])).toBeUndefined();
  });
});
