import { posix } from "node:path";
import type { Command, FileEntry, Skill } from "@agent-runtime/protocol";
import { stringify } from "yaml";
import { confinedSegments, invalidPath, MAX_SEGMENT_BYTES } from "../confined-path.js";
import type { SandboxFile } from "../sandboxes/sandbox-provider.js";

/**
 * Profile parts that every architecture writes the same way: the agent reads
 * them from different folders (`.claude/…`, `.opencode/…`) but in one format.
 * Every function throws `INVALID_PATH` when a name or relative path would
 * leave its folder (see `confinedSegments`), before anything is written.
 */

/** The profile's default files, each at its relative path under `workspaceDir`. */
export function defaultFiles(workspaceDir: string, files: readonly FileEntry[]): SandboxFile[] {
  return files.map((file) => ({
    path: posix.join(workspaceDir, ...confinedSegments(file.path)),
    content: file.content,
  }));
}

/**
 * Each skill as `<skillsDir>/<name>/SKILL.md` (`name`/`description` front
 * matter, then the skill's content) followed by its files, relative to its
 * folder. A file of the skill may not be `SKILL.md` itself.
 */
export function skillFiles(skillsDir: string, skills: readonly Skill[]): SandboxFile[] {
  return skills.flatMap((skill) => {
    const dir = posix.join(skillsDir, safeName(skill.name));
    const files: SandboxFile[] = [
      {
        path: posix.join(dir, "SKILL.md"),
        content: withFrontMatter({ name: skill.name, description: skill.description }, skill.content),
      },
    ];
    for (const file of skill.files) {
      const relative = confinedSegments(file.path).join("/");
      if (relative === "SKILL.md") throw invalidPath(file.path, "SKILL.md is written by the runtime");
      files.push({ path: posix.join(dir, relative), content: file.content });
    }
    return files;
  });
}

/** Each command as `<commandsDir>/<name>.md`: `description` front matter when it has one, then the prompt template. */
export function commandFiles(commandsDir: string, commands: readonly Command[]): SandboxFile[] {
  return commands.map((command) => ({
    path: posix.join(commandsDir, `${safeName(command.name)}.md`),
    content: withFrontMatter(command.description ? { description: command.description } : {}, command.prompt),
  }));
}

/**
 * A Markdown file with YAML front matter: `---`, the fields (none: an empty
 * block), `---`, a blank line, then `body` ending in one newline at least.
 */
export function withFrontMatter(fields: Record<string, unknown>, body: string): string {
  const header = Object.keys(fields).length > 0 ? stringify(fields, { lineWidth: 0 }) : "";
  return `---\n${header}---\n\n${body.endsWith("\n") ? body : `${body}\n`}`;
}

/**
 * `name` when it is a single path segment usable as a file or folder name:
 * ASCII letters, digits, `.`, `_`, `-`, not starting with a dot or dash, no
 * `..`, at most `MAX_SEGMENT_BYTES` long.
 */
export function safeName(name: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name) || name.includes("..") || name.length > MAX_SEGMENT_BYTES)
    throw invalidPath(name, "is not a safe name");
  return name;
}
