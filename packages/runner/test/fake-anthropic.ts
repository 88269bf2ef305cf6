import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";

/**
 * A minimal Anthropic Messages API for tests: `POST /v1/messages` answers
 * with whatever `respond` returns for the request, streamed as SSE when the
 * request asks for it, as JSON otherwise. Everything else gets a 404.
 */

export type FakeContent =
  | { readonly type: "text"; readonly text: string }
  | { readonly type: "thinking"; readonly thinking: string }
  | { readonly type: "tool_use"; readonly name: string; readonly input: Record<string, unknown> };

export interface FakeReply {
  readonly content: readonly FakeContent[];
  /** Pause between streamed chunks. @default 0 */
  readonly chunkDelayMs?: number;
}

export interface FakeRequest {
  readonly model: string;
  readonly stream: boolean;
  readonly system: unknown;
  readonly messages: readonly { role: string; content: unknown }[];
  readonly tools: readonly { name: string }[];
  /** Text of the last user message (its text blocks joined), tool results and system reminders excluded. */
  readonly lastUserText: string;
  /** The last message carries tool results (the model is being called back after tools ran). */
  readonly afterToolResult: boolean;
}

export interface FakeAnthropic {
  readonly url: string;
  readonly requests: FakeRequest[];
  close(): Promise<void>;
}

export async function startFakeAnthropic(
  respond: (request: FakeRequest) => FakeReply,
): Promise<FakeAnthropic> {
  const requests: FakeRequest[] = [];
  const server: Server = createServer((req, res) => {
    void (async () => {
      if (req.method !== "POST" || !req.url?.startsWith("/v1/messages") || req.url.includes("count_tokens")) {
        res.writeHead(404, { "content-type": "application/json" });
        res.end(JSON.stringify({ type: "error", error: { type: "not_found_error", message: "not found" } }));
        return;
      }
      const body = JSON.parse(await readBody(req)) as Record<string, unknown>;
      const request = toFakeRequest(body);
      requests.push(request);
      const reply = respond(request);
      const blocks = reply.content.map((c) =>
        c.type === "tool_use" ? { ...c, id: `toolu_${randomUUID().replaceAll("-", "").slice(0, 24)}` } : c,
      );
      const id = `msg_${randomUUID().replaceAll("-", "").slice(0, 24)}`;
      const stopReason = blocks.some((b) => b.type === "tool_use") ? "tool_use" : "end_turn";
      const usage = {
        input_tokens: 100,
        output_tokens: 20,
        cache_read_input_tokens: 0,
        cache_creation_input_tokens: 0,
      };
      if (!request.stream) {
        res.writeHead(200, { "content-type": "application/json" });
        res.end(
          JSON.stringify({
            id,
            type: "message",
            role: "assistant",
            model: request.model,
            content: blocks.map((b) => (b.type === "thinking" ? { ...b, signature: "sig" } : b)),
            stop_reason: stopReason,
            stop_sequence: null,
            usage,
          }),
        );
        return;
      }
      res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
      const send = async (event: string, data: unknown) => {
        res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
        if (reply.chunkDelayMs) await new Promise((r) => setTimeout(r, reply.chunkDelayMs));
      };
      await send("message_start", {
        type: "message_start",
        message: {
          id,
          type: "message",
          role: "assistant",
          model: request.model,
          content: [],
          stop_reason: null,
          stop_sequence: null,
          usage: { ...usage, output_tokens: 1 },
        },
      });
      for (const [index, block] of blocks.entries()) {
        if (res.destroyed) return;
        if (block.type === "text") {
          await send("content_block_start", {
            type: "content_block_start",
            index,
            content_block: { type: "text", text: "" },
          });
          for (const part of chunks(block.text)) {
            await send("content_block_delta", {
              type: "content_block_delta",
              index,
              delta: { type: "text_delta", text: part },
            });
          }
        } else if (block.type === "thinking") {
          await send("content_block_start", {
            type: "content_block_start",
            index,
            content_block: { type: "thinking", thinking: "", signature: "" },
          });
          for (const part of chunks(block.thinking)) {
            await send("content_block_delta", {
              type: "content_block_delta",
              index,
              delta: { type: "thinking_delta", thinking: part },
            });
          }
          await send("content_block_delta", {
            type: "content_block_delta",
            index,
            delta: { type: "signature_delta", signature: "sig" },
          });
        } else {
          await send("content_block_start", {
            type: "content_block_start",
            index,
            content_block: { type: "tool_use", id: block.id, name: block.name, input: {} },
          });
          for (const part of chunks(JSON.stringify(block.input))) {
            await send("content_block_delta", {
              type: "content_block_delta",
              index,
              delta: { type: "input_json_delta", partial_json: part },
            });
          }
        }
        await send("content_block_stop", { type: "content_block_stop", index });
      }
      await send("message_delta", {
        type: "message_delta",
        delta: { stop_reason: stopReason, stop_sequence: null },
        usage: { output_tokens: usage.output_tokens },
      });
      await send("message_stop", { type: "message_stop" });
      res.end();
    })().catch((error: unknown) => {
      if (!res.headersSent) res.writeHead(500, { "content-type": "application/json" });
      res.end(JSON.stringify({ type: "error", error: { type: "api_error", message: String(error) } }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    req.on("data", (part: Buffer) => parts.push(part));
    req.on("end", () => resolve(Buffer.concat(parts).toString("utf8")));
    req.on("error", reject);
  });
}

function chunks(text: string, size = 8): string[] {
  const out: string[] = [];
  for (let i = 0; i < text.length; i += size) out.push(text.slice(i, i + size));
  return out.length > 0 ? out : [""];
}

function toFakeRequest(body: Record<string, unknown>): FakeRequest {
  const messages = Array.isArray(body.messages)
    ? (body.messages as { role: string; content: unknown }[])
    : [];
  const last = messages.findLast((m) => m.role === "user");
  let lastUserText = "";
  let afterToolResult = false;
  if (last) {
    if (typeof last.content === "string") lastUserText = last.content;
    else if (Array.isArray(last.content)) {
      const parts = last.content as { type: string; text?: string }[];
      afterToolResult = parts.some((p) => p.type === "tool_result");
      lastUserText = parts
        .filter(
          (p) => p.type === "text" && typeof p.text === "string" && !p.text.startsWith("<system-reminder>"),
        )
        .map((p) => p.text)
        .join("\n");
    }
  }
  return {
    model: typeof body.model === "string" ? body.model : "unknown",
    stream: body.stream === true,
    system: body.system,
    messages,
    tools: Array.isArray(body.tools) ? (body.tools as { name: string }[]) : [],
    lastUserText,
    afterToolResult,
  };
}
