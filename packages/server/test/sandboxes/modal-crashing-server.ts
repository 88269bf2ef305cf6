import { modalRuntime, recordEvents } from "./modal-session-runtime.js";

/*
 * A server process for modal-session-reattach.test.ts, run with tsx: a
 * runtime on the Modal provider (MODAL_SERVER_URL: the test's fake API)
 * that creates a session, runs `prompt` as its first turn, prints one JSON
 * line `{sessionId, sandboxId}` once the turn ended (or, with `midTurn`,
 * once the agent streams its answer) and then runs until the test kills it.
 * Argument: JSON `{dataDir, workspaceDir, homeDir, modelUrl, prompt, midTurn?}`.
 */
const config = JSON.parse(process.argv[2] ?? "{}") as {
  dataDir: string;
  workspaceDir: string;
  homeDir: string;
  modelUrl: string;
  prompt: string;
  midTurn?: boolean;
};
const runtime = modalRuntime({
  containers: { workspaceDir: config.workspaceDir, homeDir: config.homeDir },
  dataDir: config.dataDir,
  modelUrl: config.modelUrl,
});
await runtime.start();
const session = await runtime.sessions.create({ agentProfileRef: "test" });
const recorder = recordEvents(session);
if (config.midTurn) {
  session.sendMessage(config.prompt);
  await recorder.waitFor(
    "streamed text",
    (event): event is typeof event => event.type === "session:block:delta",
  );
} else {
  const end = await recorder.turn(config.prompt);
  if (end.stopReason !== "end_turn") throw new Error(`the turn ended with ${end.stopReason}`);
}
// Stored, as a server stores before it is killed.
await session.sync();
process.stdout.write(
  `${JSON.stringify({ sessionId: session.id, sandboxId: session.snapshot().runtime.sandboxId })}\n`,
);
setInterval(() => undefined, 60_000);
