import {
  createServer as createNetServer,
  type AddressInfo,
  type Server,
  type Socket,
} from "node:net";
import { createServer as createTlsServer } from "node:tls";

/**
 * The relay's one listening socket, TCP or TLS: every connection goes to `accept` (the front door).
 * Connections stay half-open, so a browser that has sent its last request still gets the answers in flight.
 */
export function createListener(
  tls: { cert: Buffer; key: Buffer } | undefined,
  handshakeTimeoutMs: number,
  accept: (socket: Socket) => void,
): Server {
  const listener = tls
    ? createTlsServer({ ...tls, allowHalfOpen: true, handshakeTimeout: handshakeTimeoutMs }, accept)
    : createNetServer({ allowHalfOpen: true }, accept);
  listener.on("tlsClientError", (_error: Error, socket: Socket) => socket.destroy());
  return listener;
}

/** Starts listening; resolves with the port (the one picked, for port 0). */
export function listenOn(listener: Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    listener.once("error", reject);
    listener.listen(port, host, () => {
      listener.off("error", reject);
      resolve((listener.address() as AddressInfo).port);
    });
  });
}

/** Where agents dial a relay listening on `host`: a wildcard address is reached on loopback. */
export function relayUrl(scheme: "http" | "https", host: string, port: number): string {
  const bracketed = host.includes(":") ? `[${host}]` : host;
  return `${scheme}://${bracketed === "0.0.0.0" ? "127.0.0.1" : bracketed}:${port}`;
}
