import { mintTokenRequestSchema, mintTokenResponseSchema } from "@agent-runtime/protocol";
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import type { TokenAuthority } from "../../auth-tokens.js";
import { requestCaller } from "../request-caller.js";

/**
 * `POST /auth/tokens`: mints a browser token on behalf of the request's
 * caller (an API key, or a token no narrower than the one asked for; see
 * `TokenAuthority.mint` for what is refused `FORBIDDEN`). A read-only
 * caller is refused before this route like any write.
 */
export const tokenRoutes: FastifyPluginAsyncZod<{ tokens: TokenAuthority }> = async (app, { tokens }) => {
  app.post(
    "/auth/tokens",
    {
      bodyLimit: 16 * 1024,
      schema: {
        tags: ["auth"],
        summary: "Mint a short-lived browser token scoped to a tenant, sessions and reads",
        body: mintTokenRequestSchema,
        response: { 201: mintTokenResponseSchema },
      },
    },
    async (request, reply) => reply.status(201).send(await tokens.mint(requestCaller(request), request.body)),
  );
};
