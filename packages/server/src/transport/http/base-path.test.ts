import { describe, expect, it } from "vitest";
import { normalizeBasePath, pathInsideBasePath } from "./base-path.js";
import { studioPage } from "./studio.js";

describe("normalizeBasePath", () => {
  it("reads none, a prefix and a trailing slash", () => {
    expect(normalizeBasePath(undefined)).toBe("");
    expect(normalizeBasePath("")).toBe("");
    expect(normalizeBasePath("/")).toBe("");
    expect(normalizeBasePath("/api")).toBe("/api");
    expect(normalizeBasePath("/api/")).toBe("/api");
    expect(normalizeBasePath("/team-1/agents.v2/~x_y")).toBe("/team-1/agents.v2/~x_y");
  });

  it("refuses what is not a plain path prefix, naming it", () => {
    for (const bad of [
      "api",
      "//",
      "/a//b",
      "/a/../b",
      "/./a",
      "/..",
      "/a b",
      "/a%2fb",
      "/a?b",
      "/a#b",
      "/ä",
      "https://x/api",
    ])
      expect(() => normalizeBasePath(bad), bad).toThrow(JSON.stringify(bad));
  });
});

describe("pathInsideBasePath", () => {
  it("strips the prefix of what is under it, and keeps its query", () => {
    expect(pathInsideBasePath("/api", "/api")).toBe("/");
    expect(pathInsideBasePath("/api", "/api/")).toBe("/");
    expect(pathInsideBasePath("/api", "/api?x=1")).toBe("/?x=1");
    expect(pathInsideBasePath("/api", "/api/sessions/a?after=3")).toBe("/sessions/a?after=3");
    expect(pathInsideBasePath("", "/sessions")).toBe("/sessions");
  });

  it("finds nothing outside it, including a longer segment that starts the same", () => {
    for (const outside of ["/", "/sessions", "/apix", "/apix/sessions", "/other/api", "/API/sessions"])
      expect(pathInsideBasePath("/api", outside), outside).toBeUndefined();
  });
});

describe("studioPage", () => {
  it("names the prefix in the page's base, adding one to a page without", () => {
    expect(studioPage('<head>\n<base href="/" />\n<title>S</title></head>', "/api")).toBe(
      '<head>\n<base href="/api/">\n<title>S</title></head>',
    );
    expect(studioPage('<head lang="en"><title>S</title></head>', "")).toBe(
      '<head lang="en">\n    <base href="/"><title>S</title></head>',
    );
  });
});
