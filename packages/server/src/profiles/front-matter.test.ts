import { describe, expect, it } from "vitest";
import { splitFrontMatter } from "./front-matter.js";

describe("splitFrontMatter", () => {
  it("splits YAML attributes from the body", () => {
    expect(splitFrontMatter("---\nname: x\ntools: [A, B]\n---\n\n# Body\ntext\n", "f.md")).toEqual({
      attributes: { name: "x", tools: ["A", "B"] },
      body: "# Body\ntext\n",
    });
  });

  it("accepts CRLF line ends, a BOM and an empty block", () => {
    expect(splitFrontMatter("\uFEFF---\r\ndescription: d\r\n---\r\nBody", "f.md")).toEqual({
      attributes: { description: "d" },
      body: "Body",
    });
    expect(splitFrontMatter("---\n---\nBody", "f.md")).toEqual({ attributes: {}, body: "Body" });
  });

  it("treats a file without a leading --- line as all body", () => {
    expect(splitFrontMatter("# Title\n---\nnot: front matter\n", "f.md")).toEqual({
      attributes: {},
      body: "# Title\n---\nnot: front matter\n",
    });
  });

  it("keeps later --- lines in the body", () => {
    expect(splitFrontMatter("---\na: 1\n---\nabove\n---\nbelow", "f.md").body).toBe("above\n---\nbelow");
  });

  it("rejects unterminated, invalid and non-mapping front matter with the file name", () => {
    expect(() => splitFrontMatter("---\na: 1\nbody", "x/a.md")).toThrow(
      "x/a.md: front matter has no closing '---' line",
    );
    expect(() => splitFrontMatter("---\na: [1\n---\n", "x/b.md")).toThrow(
      /^x\/b\.md: invalid YAML front matter: /,
    );
    expect(() => splitFrontMatter("---\n- 1\n---\n", "x/c.md")).toThrow(
      "x/c.md: front matter must be a YAML mapping",
    );
  });
});
