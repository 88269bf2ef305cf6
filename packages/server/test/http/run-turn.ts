import { SocketRecorder } from "../support/socket-recorder.js";

/**
 * Sends `content` to a session and resolves once its turn completed and the
 * watcher reported `filePath` as created (files are reported shortly after
 * the tool that wrote them). Uses a real socket.io client from seq 0.
 */
export async function runTurnUntilFile(
  url: string,
  sessionId: string,
  content: string,
  filePath: string,
): Promise<void> {
  const recorder = new SocketRecorder(url);
  try {
    await recorder.join(sessionId, 0);
    await fetch(`${url}/sessions/${sessionId}/messages`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ content }),
    });
    await recorder.waitForTurns(1);
    await recorder.waitFor((e) => e.type === "session:file:created" && e.file.path === filePath, 10_000);
  } finally {
    recorder.close();
  }
}
