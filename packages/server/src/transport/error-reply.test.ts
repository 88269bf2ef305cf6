import { describe, expect, it, vi } from "vitest";
import { RuntimeError } from "../errors.js";
import { errorAck, errorReply, errorReplyFor } from "./error-reply.js";

describe("errorReply", () => {
  it("keeps a RuntimeError's code and message, with the code's status", () => {
    expect(errorReply(new RuntimeError("SESSION_NOT_FOUND", "No session x"), "req-1")).toEqual({
      status: 404,
      body: { error: { code: "SESSION_NOT_FOUND", message: "No session x", requestId: "req-1" } },
    });
    expect(errorReply(new RuntimeError("SANDBOX_FAILED", "boom")).status).toBe(502);
  });

  it("recognises a RuntimeError from another copy of the package", async () => {
    vi.resetModules();
    const copy = await import("../errors.js");
    expect(copy.RuntimeError).not.toBe(RuntimeError);
    const foreign = new copy.RuntimeError("SESSION_BUSY", "busy");
    expect(RuntimeError.is(foreign)).toBe(true);
    expect(errorReply(foreign).body.error).toEqual({ code: "SESSION_BUSY", message: "busy" });
  });

  it("answers INTERNAL without the message of anything else", () => {
    for (const thrown of [
      new Error("ECONNREFUSED 10.0.0.5:5432 password=x"),
      "text",
      undefined,
      { code: 7 },
    ]) {
      expect(errorReply(thrown, "r")).toEqual({
        status: 500,
        body: { error: { code: "INTERNAL", message: "Internal server error", requestId: "r" } },
      });
    }
  });

  it("maps fastify's own errors by code, then by 4xx status", () => {
    const tooLarge = Object.assign(new Error("Request body is too large"), {
      code: "FST_ERR_CTP_BODY_TOO_LARGE",
    });
    expect(errorReply(tooLarge).body.error.code).toBe("PAYLOAD_TOO_LARGE");
    const notAllowed = Object.assign(new Error("nope"), { statusCode: 405 });
    expect(errorReply(notAllowed)).toMatchObject({
      status: 405,
      body: { error: { code: "METHOD_NOT_ALLOWED" } },
    });
    expect(errorReply(new SyntaxError("Unexpected token")).body.error.code).toBe("INVALID_JSON");
  });

  it("builds replies for a chosen code, with details when given", () => {
    expect(errorReplyFor("VALIDATION_FAILED", "bad", { details: [1] })).toEqual({
      status: 400,
      body: { error: { code: "VALIDATION_FAILED", message: "bad", details: [1] } },
    });
  });

  it("gives sockets the same error without a request id", () => {
    expect(errorAck(new RuntimeError("UNAUTHORIZED", "key"))).toEqual({
      ok: false,
      error: { code: "UNAUTHORIZED", message: "key" },
    });
    expect(errorAck(new Error("secret"))).toEqual({
      ok: false,
      error: { code: "INTERNAL", message: "Internal server error" },
    });
  });
});
