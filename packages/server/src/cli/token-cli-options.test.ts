import { describe, expect, it } from "vitest";
import { tokenOptions } from "./token-cli-options.js";

describe("tokenOptions", () => {
  it("takes the secret, and the JWKS URL with its issuer and audience", () => {
    expect(tokenOptions({})).toEqual({});
    expect(
      tokenOptions({
        tokenSecret: "s".repeat(32),
        tokenJwksUrl: "https://app.example/jwks.json",
        tokenIssuer: "my-app",
        tokenAudience: "runtime",
      }),
    ).toEqual({
      secret: "s".repeat(32),
      application: { jwksUrl: "https://app.example/jwks.json", issuer: "my-app", audience: "runtime" },
    });
  });

  it("refuses an issuer or audience without the JWKS URL they apply to", () => {
    expect(() => tokenOptions({ tokenIssuer: "my-app" })).toThrow(/--token-jwks-url/);
  });
});
