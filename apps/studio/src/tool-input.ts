import { firstLine } from "./format.js";

/** Reading tool inputs, whose shape each tool defines (Claude Code's names: `file_path`, `command`, …). */

export type ToolInput = Record<string, unknown>;

export function asToolInput(value: unknown): ToolInput {
  return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as ToolInput) : {};
}

export function inputText(input: ToolInput, key: string): string | undefined {
  const value = input[key];
  return typeof value === "string" ? value : undefined;
}

/** The last two segments of a path. */
function shortPath(path: string): string {
  const parts = path.split("/").filter(Boolean);
  return parts.length > 2 ? `…/${parts.slice(-2).join("/")}` : path;
}

/** One line saying what the call does: a path, a command, a pattern, … */
export function summarizeToolInput(toolName: string, input: ToolInput): string {
  const path = inputText(input, "file_path") ?? inputText(input, "path") ?? inputText(input, "filePath");
  const value =
    inputText(input, "command") ??
    (path ? shortPath(path) : undefined) ??
    inputText(input, "pattern") ??
    inputText(input, "url") ??
    inputText(input, "description") ??
    inputText(input, "query") ??
    Object.values(input).find((v): v is string => typeof v === "string");
  if (toolName === "TodoWrite" && Array.isArray(input.todos)) return `${input.todos.length} todos`;
  return value ? firstLine(value, 90) : "";
}
