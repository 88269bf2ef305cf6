import { posix } from "node:path";
import type { SandboxFile } from "../../sandboxes/sandbox-provider.js";
import type { MaterializeInput } from "../agent-architecture.js";
import { defaultFiles } from "../profile-files.js";

/**
 * The files that make a profile visible to an ACP agent: the profile's
 * default files and its memory file as `AGENTS.md` at the workspace root
 * (the convention Codex and most ACP agents read). Skills, subagents and
 * commands have no common ACP form: they are not written (the
 * architecture's capabilities say so). Throws `INVALID_PATH` when a
 * default file's path would leave the workspace.
 */
export function materializeAcpProfile(input: MaterializeInput): SandboxFile[] {
  const { profile, workspaceDir } = input;
  const files = defaultFiles(workspaceDir, profile.defaultFiles);
  if (profile.agentMDFile !== undefined) {
    files.push({ path: posix.join(workspaceDir, "AGENTS.md"), content: profile.agentMDFile });
  }
  return files;
}
