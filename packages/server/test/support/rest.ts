import type { SessionData } from "@agent-runtime/protocol";

/** Thin REST calls against a test server; every call returns the raw `Response` or parsed JSON. */
export function restClient(url: string) {
  const post = (path: string, body: unknown) =>
    fetch(`${url}${path}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
  return {
    post,
    async createSession(body: Record<string, unknown> = {}): Promise<string> {
      const response = await post("/sessions", { agentProfileRef: "test", ...body });
      if (response.status !== 201)
        throw new Error(`create session: ${response.status} ${await response.text()}`);
      return ((await response.json()) as SessionData).sessionId;
    },
    send: (sessionId: string, content: string) => post(`/sessions/${sessionId}/messages`, { content }),
    interrupt: (sessionId: string) => post(`/sessions/${sessionId}/interrupt`, {}),
    async session(sessionId: string): Promise<SessionData> {
      const response = await fetch(`${url}/sessions/${sessionId}`);
      if (response.status !== 200)
        throw new Error(`get session: ${response.status} ${await response.text()}`);
      return (await response.json()) as SessionData;
    },
  };
}
