import type { Socket as NetSocket } from "node:net";
import { setTimeout as delay } from "node:timers/promises";
import { io, type Socket } from "socket.io-client";

/**
 * A connected socket.io client (websocket only, no reconnection); rejects
 * with the `connect_error`. `headers` go with the handshake (e.g. the
 * `X-Forwarded-For` a reverse proxy adds).
 */
export function connectSocket(
  url: string,
  options: { token?: string; headers?: Record<string, string> } = {},
): Promise<Socket> {
  const socket = io(url, {
    transports: ["websocket"],
    reconnection: false,
    forceNew: true,
    ...(options.token ? { auth: { token: options.token } } : {}),
    ...(options.headers ? { extraHeaders: options.headers } : {}),
  });
  return new Promise((resolve, reject) => {
    socket.once("connect", () => resolve(socket));
    socket.once("connect_error", (error) => {
      socket.close();
      reject(error);
    });
  });
}

/** The TCP socket under a connected socket.io client (websocket transport, Node's `ws`): pause it to stop reading. */
export function tcpOf(socket: Socket): NetSocket {
  const transport = socket.io.engine.transport as unknown as { ws?: { _socket?: NetSocket } };
  const tcp = transport.ws?._socket;
  if (!tcp) throw new Error("no TCP socket under the client");
  return tcp;
}

/** Resolves once `condition()` holds (checked every 10 ms); rejects after `timeoutMs`. */
export async function until(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await delay(10);
  }
}
