import { randomUUID } from "node:crypto";
import { chmod, mkdtemp, rm } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { agentProfileSchema } from "@agent-runtime/protocol";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { AgentArchitecture } from "../../src/agents/agent-architecture.js";
import { createClaudeAgentSdkArchitecture } from "../../src/agents/claude-agent-sdk/claude-agent-sdk-architecture.js";
import { createOpenCodeArchitecture } from "../../src/agents/opencode/opencode-architecture.js";
import { sandboxEgressFor } from "../../src/core/model-egress.js";
import { createLocalSandboxProvider } from "../../src/sandboxes/local/local-sandbox-provider.js";
import { runInSandbox } from "../../src/sandboxes/sandbox-contract.js";
import type { Sandbox, SandboxProvider } from "../../src/sandboxes/sandbox-provider.js";

/**
 * The model key goes only to the model API's requests (method and path): a sandbox with the
 * egress the runtime gives a session (real bubblewrap, real proxy) sends
 * requests with the placeholder key to other paths of the model host, and
 * the upstream, which records every request and its headers, never sees the
 * key there (those requests never reach it at all).
 */
const testRoot = await mkdtemp(join(tmpdir(), "egress-scope-"));
// Sandboxes run as other users, which must be able to enter it.
await chmod(testRoot, 0o711);
const REAL_KEY = `sk-real-${randomUUID()}`;

interface Seen {
  readonly method: string;
  readonly path: string;
  readonly headers: string;
}

describe("the model key's scope on the model host", () => {
  let provider: SandboxProvider;
  let upstream: Server;
  let endpoint: string;
  const seen: Seen[] = [];
  const created: Sandbox[] = [];

  beforeAll(async () => {
    provider = createLocalSandboxProvider({ rootDir: join(testRoot, "sandboxes") });
    await provider.check();
    upstream = createServer((req, res) => {
      seen.push({ method: req.method ?? "", path: req.url ?? "", headers: JSON.stringify(req.headers) });
      res.end("upstream");
    });
    await new Promise<void>((resolve) => upstream.listen(0, "127.0.0.1", resolve));
    endpoint = `127.0.0.1:${(upstream.address() as AddressInfo).port}`;
  });
  afterEach(async () => {
    await Promise.all(created.splice(0).map((sandbox) => sandbox.terminate()));
  });
  afterAll(async () => {
    upstream.close();
    await rm(testRoot, { recursive: true, force: true });
  });

  const cases: Array<{ name: string; architecture: AgentArchitecture; header: string; api: string[] }> = [
    {
      name: "Claude Code",
      architecture: createClaudeAgentSdkArchitecture(),
      header: "x-api-key: $KEY",
      api: ["POST /v1/messages?beta=true", "POST /v1/messages/count_tokens", "GET /v1/models"],
    },
    {
      name: "OpenCode",
      architecture: createOpenCodeArchitecture(),
      header: "authorization: Bearer $KEY",
      api: ["POST /v1/chat/completions", "GET /v1/models"],
    },
  ];

  it.each(cases)("$name: the API's paths get the key, no other path reaches the upstream", async (c) => {
    seen.length = 0;
    const egress = sandboxEgressFor(
      { baseUrl: `http://${endpoint}`, apiKey: REAL_KEY },
      c.architecture,
      agentProfileSchema.parse({ id: "p", name: "P" }),
    );
    const sandbox = await provider.create({
      name: `scope-${randomUUID().slice(0, 8)}`,
      network: egress.network,
      env: { KEY: egress.agentEndpoint.apiKey ?? "", BASE: egress.agentEndpoint.baseUrl ?? "" },
    });
    created.push(sandbox);
    const others = [
      "GET /_mock/requests",
      "GET /",
      "GET /api/hello",
      "POST /v1/complete",
      "GET /v1/messages/../../_mock/requests",
      "POST /v1/chat/completions/..%2f..%2f_mock/requests",
      "GET /v1/models/%2e%2e/%2e%2e/_mock/requests",
      // The key's other uses: batches, stored completions, model management.
      "GET /v1/messages/batches",
      "POST /v1/messages/batches",
      "GET /v1/chat/completions",
      "DELETE /v1/models/ft-model",
    ];
    const curl = (request: string) => {
      const [method, path] = request.split(" ");
      return `curl -s --path-as-is -X ${method} -o /dev/null -w '${method}_${path} %{http_code}\\n' -H "${c.header}" "$BASE${path}"`;
    };
    const result = await runInSandbox(sandbox, ["bash", "-c", [...c.api, ...others].map(curl).join("; ")]);
    const statuses = Object.fromEntries(
      result.stdout
        .trim()
        .split("\n")
        .map((line) => line.replace("_", " ").split(/ (?=\d+$)/) as [string, string]),
    );
    for (const path of c.api) expect(statuses[path], path).toBe("200");
    for (const path of others) expect(statuses[path], path).toBe("403");
    // Measured at the upstream: only the API's requests arrived, each with the real key.
    expect(seen.map((s) => `${s.method} ${s.path}`)).toEqual(c.api);
    for (const request of seen) expect(request.headers).toContain(REAL_KEY);
  });
});
