import type { TokenOptions } from "../transport/auth-tokens.js";

/** The parsed `--token-*` options of `serve`. */
export interface TokenCliValues {
  readonly tokenSecret?: unknown;
  readonly tokenJwksUrl?: unknown;
  readonly tokenIssuer?: unknown;
  readonly tokenAudience?: unknown;
}

/**
 * The browser-token options of `--token-secret`, `--token-jwks-url`,
 * `--token-issuer` and `--token-audience` (or their environment
 * variables). The issuer and audience apply to application-signed tokens,
 * which need the JWKS URL.
 */
export function tokenOptions(values: TokenCliValues): TokenOptions {
  const text = (value: unknown): string | undefined =>
    typeof value === "string" && value !== "" ? value : undefined;
  const jwksUrl = text(values.tokenJwksUrl);
  const issuer = text(values.tokenIssuer);
  const audience = text(values.tokenAudience);
  if ((issuer || audience) && !jwksUrl) {
    throw new Error(
      "--token-issuer and --token-audience apply to application tokens: set --token-jwks-url too",
    );
  }
  const secret = text(values.tokenSecret);
  return {
    ...(secret ? { secret } : {}),
    ...(jwksUrl
      ? {
          application: {
            jwksUrl,
            ...(issuer ? { issuer } : {}),
            ...(audience ? { audience } : {}),
          },
        }
      : {}),
  };
}
