import { describe, expect, it } from "vitest";
import { messageAttachmentSchema } from "./attachments.js";

/** The messages a client is shown for an attachment the schema refuses. */
function refusal(attachment: unknown): string {
  const result = messageAttachmentSchema.safeParse(attachment);
  expect(result.success).toBe(false);
  return (result.error?.issues ?? []).map((issue) => `${issue.path.join(".")}: ${issue.message}`).join("; ");
}

describe("messageAttachmentSchema refusals name what is wrong", () => {
  it("an image of an unsupported type names the type and the accepted ones", () => {
    const message = refusal({ type: "image", mediaType: "image/svg+xml", data: "AAAA" });
    expect(message).toContain("image/svg+xml");
    for (const accepted of ["image/png", "image/jpeg", "image/gif", "image/webp"])
      expect(message).toContain(accepted);
    expect(message).not.toMatch(/^: Invalid input$/);
  });

  it("an inline image without data, or with both data and a path, says so", () => {
    expect(refusal({ type: "image", mediaType: "image/png" })).toContain("data");
    expect(refusal({ type: "image", mediaType: "image/png", data: "AAAA", path: "a.png" })).toContain("path");
  });

  it("an image with neither bytes nor a path says what an image needs", () => {
    expect(refusal({ type: "image" })).toMatch(/mediaType.*data.*path|path.*mediaType.*data/);
  });

  it("an unknown attachment type names the accepted ones", () => {
    const message = refusal({ type: "video", data: "AAAA" });
    expect(message).toContain("video");
    expect(message).toContain('"image"');
    expect(message).toContain('"file"');
  });

  it("still accepts every valid shape", () => {
    for (const ok of [
      { type: "image", mediaType: "image/webp", data: "AAAA" },
      { type: "image", path: "pics/a.png" },
      { type: "file", name: "notes.txt", data: "AAAA" },
    ])
      expect(messageAttachmentSchema.safeParse(ok).success).toBe(true);
  });
});
