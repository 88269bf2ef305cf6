// @vitest-environment jsdom
import type { AgentRuntimeClient } from "@agent-runtime/client";
import type { MintTokenResponse, SessionSummary } from "@agent-runtime/protocol";
import { cleanup, render, screen, waitFor } from "@testing-library/react";
import { createElement as h } from "react";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type RealServer, startRealServer } from "../../client/test/support/real-server.js";
import { AgentServiceProvider, useAgentClient, useSessionList } from "../src/index.js";

const clients: AgentRuntimeClient[] = [];

function SessionIds() {
  const client = useAgentClient();
  if (!clients.includes(client)) clients.push(client);
  const { sessions } = useSessionList();
  return h(
    "ul",
    null,
    sessions.map((s) => h("li", { key: s.sessionId, "data-testid": "session" }, s.sessionId)),
  );
}

/** Issue 17: the provider takes a `getToken()` refresher instead of a key. */
describe("AgentServiceProvider with getToken", () => {
  let server: RealServer;
  const createFor = async (key: string): Promise<string> => {
    const response = await fetch(`${server.url}/sessions`, {
      method: "POST",
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
      body: JSON.stringify({ agentProfileRef: "test" }),
    });
    return ((await response.json()) as SessionSummary).sessionId;
  };

  beforeAll(async () => {
    server = await startRealServer(
      { rules: [] },
      {
        apiKeys: [
          { tenant: "alpha", key: "alpha-key" },
          { tenant: "beta", key: "beta-key" },
        ],
        rateLimit: false,
      },
    );
  });
  afterEach(cleanup);
  afterAll(async () => {
    await server?.close();
  });

  it("lists only the token's tenant's sessions, and keeps its client when getToken changes identity", async () => {
    const alpha = await createFor("alpha-key");
    await createFor("beta-key");
    let calls = 0;
    // What the application's backend answers; a tenant's key stands in for a minted token here, as jose cannot
    // sign inside this jsdom environment (whose Uint8Array is not Node's). Tokens themselves are tested
    // against a real server in the client's `token-refresh.test.ts`.
    const getToken = async (): Promise<MintTokenResponse> => {
      calls += 1;
      return { token: "alpha-key", expiresAt: new Date(Date.now() + 600_000).toISOString() };
    };
    const view = render(h(AgentServiceProvider, { apiUrl: server.url, getToken }, h(SessionIds)));
    await waitFor(() =>
      expect(screen.getAllByTestId("session").map((li) => li.textContent)).toEqual([alpha]),
    );
    expect(calls).toBe(1);
    view.rerender(h(AgentServiceProvider, { apiUrl: server.url, getToken: () => getToken() }, h(SessionIds)));
    await waitFor(() => expect(screen.getAllByTestId("session")).toHaveLength(1));
    expect(clients).toHaveLength(1);
  });
});
