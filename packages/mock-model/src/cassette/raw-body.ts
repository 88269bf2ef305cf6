import type { FastifyInstance } from "fastify";

/** Makes every request body a `Buffer` of its bytes (whatever the content type), for forwarding and matching. */
export function acceptRawBodies(app: FastifyInstance): void {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser("*", { parseAs: "buffer" }, (_request, body, done) => done(null, body));
}
