import { connect } from "node:net";

/** Bytes no HTTP client library would send, each with the status a server must answer. */
export const MALFORMED_REQUESTS: readonly {
  readonly name: string;
  readonly bytes: string;
  readonly status: number;
}[] = [
  {
    name: "headers over the server's limit",
    bytes: `GET /health HTTP/1.1\r\nHost: x\r\nX-Pad: ${"p".repeat(64 * 1024)}\r\n\r\n`,
    status: 431,
  },
  { name: "not a request line", bytes: "HELLO THERE\r\n\r\n", status: 400 },
  {
    name: "a header without a colon",
    bytes: "GET /health HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n",
    status: 400,
  },
  {
    name: "two different Content-Length headers",
    bytes:
      "POST /sessions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\nContent-Length: 30\r\n\r\n{}",
    status: 400,
  },
  {
    name: "Content-Length and chunked together",
    bytes:
      "POST /sessions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    status: 400,
  },
  {
    name: "a malformed chunk",
    bytes:
      "POST /sessions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n",
    status: 400,
  },
  {
    name: "a control character in the path",
    bytes: "GET /sessions/\u0001 HTTP/1.1\r\nHost: x\r\n\r\n",
    status: 400,
  },
];

export interface RawAnswer {
  readonly status: number;
  readonly contentType: string | undefined;
  readonly body: string;
}

/**
 * Writes `bytes` to the server at `url` on a fresh connection and reads the
 * answer until the server closes the connection, or until `timeoutMs`
 * (then it rejects). Resolves `undefined` when the server closed it without
 * answering.
 */
export function sendRaw(url: string, bytes: string, timeoutMs = 10_000): Promise<RawAnswer | undefined> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: hostname, port: Number(port) });
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.on("data", (chunk: Buffer) => chunks.push(chunk));
    socket.on("error", () => undefined); // A reset after the answer is normal; what was read decides.
    socket.on("close", () => {
      clearTimeout(timer);
      resolve(parseAnswer(Buffer.concat(chunks).toString("latin1")));
    });
    socket.write(bytes, "latin1");
  });
}

function parseAnswer(text: string): RawAnswer | undefined {
  const split = text.indexOf("\r\n\r\n");
  if (split === -1) return undefined;
  const [statusLine = "", ...headerLines] = text.slice(0, split).split("\r\n");
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1] ?? Number.NaN);
  const header = (name: string) =>
    headerLines
      .find((line) => line.toLowerCase().startsWith(`${name}:`))
      ?.slice(name.length + 1)
      .trim();
  return { status, contentType: header("content-type"), body: text.slice(split + 4) };
}
