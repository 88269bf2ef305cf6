import { describe, expect, it } from "vitest";
import { RuntimeError } from "../errors.js";
import { commandFiles, defaultFiles, safeName, skillFiles, withFrontMatter } from "./profile-files.js";

const rejects = (run: () => unknown, reason: RegExp) => {
  expect(run).toThrow(reason);
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(RuntimeError);
    expect((error as RuntimeError).code).toBe("INVALID_PATH");
  }
};

describe("profile files", () => {
  it("writes front matter as YAML between --- lines, then the body with a final newline", () => {
    expect(withFrontMatter({ description: "Do: it", tools: { "*": false } }, "Body")).toBe(
      '---\ndescription: "Do: it"\ntools:\n  "*": false\n---\n\nBody\n',
    );
    expect(withFrontMatter({}, "Body\n")).toBe("---\n---\n\nBody\n");
  });

  it("accepts single path segments as names and rejects the rest", () => {
    expect(safeName("pdf-tools_1.2")).toBe("pdf-tools_1.2");
    for (const name of ["", ".hidden", "a/b", "a..b", "-x", "a b", "x".repeat(256)])
      rejects(() => safeName(name), /not a safe name/);
  });

  it("normalises default file paths under the workspace and refuses those that leave it", () => {
    expect(defaultFiles("/w", [{ path: "./src//a.ts", content: "x" }])).toEqual([
      { path: "/w/src/a.ts", content: "x" },
    ]);
    rejects(() => defaultFiles("/w", [{ path: "a/../../b", content: "" }]), /leaves its folder/);
    rejects(() => defaultFiles("/w", [{ path: "./", content: "" }]), /names no file/);
    rejects(() => defaultFiles("/w", [{ path: "/etc/passwd", content: "" }]), /is absolute/);
    rejects(() => defaultFiles("/w", [{ path: "a\0b", content: "" }]), /NUL/);
  });

  it("writes a skill's SKILL.md and files in its folder, and keeps SKILL.md for the runtime", () => {
    const skill = {
      name: "pdf",
      description: "PDFs",
      content: "Use it.",
      files: [{ path: "bin/x.py", content: "1" }],
    };
    expect(skillFiles("/w/.agent/skills", [skill])).toEqual([
      {
        path: "/w/.agent/skills/pdf/SKILL.md",
        content: "---\nname: pdf\ndescription: PDFs\n---\n\nUse it.\n",
      },
      { path: "/w/.agent/skills/pdf/bin/x.py", content: "1" },
    ]);
    rejects(
      () => skillFiles("/s", [{ ...skill, files: [{ path: "./SKILL.md", content: "" }] }]),
      /SKILL\.md/,
    );
    rejects(() => skillFiles("/s", [{ ...skill, name: ".." }]), /not a safe name/);
  });

  it("writes a command as <name>.md with its description, if any", () => {
    expect(
      commandFiles("/c", [
        { name: "review", description: "Review code", prompt: "Review $ARGUMENTS" },
        { name: "plain", prompt: "Go" },
      ]),
    ).toEqual([
      { path: "/c/review.md", content: "---\ndescription: Review code\n---\n\nReview $ARGUMENTS\n" },
      { path: "/c/plain.md", content: "---\n---\n\nGo\n" },
    ]);
  });
});
