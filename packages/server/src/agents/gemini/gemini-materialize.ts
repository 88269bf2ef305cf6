import { posix } from "node:path";
import type { SandboxFile } from "../../sandboxes/sandbox-provider.js";
import type { MaterializeInput } from "../agent-architecture.js";
import { defaultFiles, skillFiles } from "../profile-files.js";

/**
 * The files that make a profile visible to Gemini CLI: the default files,
 * the memory file as `GEMINI.md` at the workspace root, and the system
 * prompt as its global memory `<home>/.gemini/GEMINI.md` (outside the
 * workspace: no workspace file), which Gemini CLI puts in every request's
 * system instruction; the skills as `.gemini/skills/<name>/SKILL.md` with
 * their files (Gemini CLI's project skills, loaded with its `activate_skill`
 * tool). Subagents and commands are not written (Gemini CLI runs no custom
 * commands over ACP).
 * Throws `INVALID_PATH` when a default file's or a skill file's path would
 * leave the workspace.
 */
export function materializeGeminiProfile(input: MaterializeInput): SandboxFile[] {
  const { profile, workspaceDir, homeDir } = input;
  const files = defaultFiles(workspaceDir, profile.defaultFiles);
  if (profile.agentMDFile !== undefined) {
    files.push({ path: posix.join(workspaceDir, "GEMINI.md"), content: profile.agentMDFile });
  }
  files.push(...skillFiles(posix.join(workspaceDir, ".gemini", "skills"), profile.skills));
  if (profile.systemPrompt !== undefined) {
    files.push({ path: posix.join(homeDir, ".gemini", "GEMINI.md"), content: profile.systemPrompt });
  }
  return files;
}
