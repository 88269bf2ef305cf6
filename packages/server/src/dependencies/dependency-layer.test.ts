import { type AgentProfile, agentProfileSchema } from "@agent-runtime/protocol";
import { describe, expect, it } from "vitest";
import { dependencyLayerOf } from "./dependency-layer.js";

const sources = { npmRegistry: "http://127.0.0.1:4873/", pipFindLinks: ["/srv/wheels"] };
const profile = (fields: Record<string, unknown>): AgentProfile =>
  agentProfileSchema.parse({ id: "p", name: "P", ...fields });

describe("dependencyLayerOf", () => {
  it("has no layer for a profile without packages or bundled projects", () => {
    expect(dependencyLayerOf(profile({}), sources, "image")).toBeUndefined();
  });

  it("names a layer by its content: order and repeats do not matter, every input does", () => {
    const key = (fields: Record<string, unknown>, image = "image", from = sources) =>
      dependencyLayerOf(profile(fields), from, image)?.key;
    const base = key({ dependencies: { npm: ["a", "b"], pip: ["c"] } });
    expect(base).toMatch(/^[0-9a-f]{64}$/);
    expect(key({ dependencies: { npm: ["b", "a", "a"], pip: ["c"] } })).toBe(base);
    expect(key({ dependencies: { npm: ["a", "b@2"], pip: ["c"] } })).not.toBe(base);
    expect(key({ dependencies: { npm: ["a", "b"], pip: ["c"] } }, "other image")).not.toBe(base);
    expect(
      key({ dependencies: { npm: ["a", "b"], pip: ["c"] } }, "image", { ...sources, pipFindLinks: [] }),
    ).not.toBe(base);
    const bundled = (content: string) => ({
      mcpServers: { s: { type: "bundled", command: "node", files: [{ path: "x.js", content }] } },
    });
    expect(key(bundled("1"))).not.toBe(key(bundled("2")));
  });

  it("installs npm packages from the registry, pip packages from the wheel folders only, each after `--`", () => {
    const layer = dependencyLayerOf(profile({ dependencies: { npm: ["a"], pip: ["c"] } }), sources, "image");
    expect(layer?.commands.map((step) => step.command)).toEqual([
      [
        "npm",
        "install",
        "--omit=dev",
        "--no-audit",
        "--no-fund",
        "--no-update-notifier",
        "--registry",
        sources.npmRegistry,
        "--",
        "a",
      ],
      [
        "python3",
        "-m",
        "pip",
        "install",
        "--no-input",
        "--disable-pip-version-check",
        "--no-cache-dir",
        "--no-index",
        "--find-links",
        "/srv/wheels",
        "--target",
        "python",
        "--",
        "c",
      ],
    ]);
    expect(layer?.network).toEqual({ allow: ["127.0.0.1:4873"] });
    expect(layer?.hostFolders).toEqual(["/srv/wheels"]);
  });

  it("refuses npm packages when no registry is known", () => {
    expect(() => dependencyLayerOf(profile({ dependencies: { npm: ["a"] } }), {}, "image")).toThrow(
      expect.objectContaining({ code: "DEPENDENCIES_FAILED" }),
    );
  });
});
