import type { Architecture, ArchitectureCapabilities } from "@agent-runtime/protocol";

const labels: Readonly<Record<Architecture, string>> = {
  "claude-agent-sdk": "Claude Agent SDK (Claude Code)",
  opencode: "OpenCode",
  codex: "Codex (over ACP)",
  gemini: "Gemini CLI (over ACP)",
  acp: "ACP agent",
};

/** The name the Studio shows for an architecture. */
export function architectureLabel(id: Architecture): string {
  return labels[id] ?? id;
}

/** What a session's agent cannot do, one short phrase each, for the session header. */
export function capabilityLimits(capabilities: ArchitectureCapabilities): string[] {
  return [
    ...(capabilities.nativeResume ? [] : ["forgets earlier turns when its sandbox restarts"]),
    ...(capabilities.subagents ? [] : ["no subagents"]),
    ...(capabilities.permissions ? [] : ["never asks before tool calls"]),
    ...(capabilities.toolRestriction === false ? ["offers its own tools, not only the profile's"] : []),
    ...(capabilities.skills === false ? ["no skills"] : []),
    ...(capabilities.commands === false ? ["no profile commands"] : []),
  ];
}
