/**
 * Child process: the stand-in for code-server. Plain `node:http` plus a `ws` echo server on one port:
 *   GET  /tiny          2-byte body
 *   GET  /bytes?n=N     N bytes streamed from one reused buffer (with backpressure)
 *   POST /upload        body read and discarded; answers with the byte count
 *   WS   /ws            echoes every message
 * Listens on `DRYDOCK_BENCH_HOST` (127.0.0.1 by default); announces `{ port }`.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";

import { WebSocketServer } from "ws";

import { listenHost, serveParent } from "./ipc.js";

const CHUNK = Buffer.alloc(256 * 1024, "x");

const server = createServer((req, res) => {
  const url = new URL(req.url ?? "/", "http://upstream");
  if (url.pathname === "/tiny" || url.pathname === "/healthz") {
    res.writeHead(200, { "content-type": "text/plain", "content-length": "2" });
    res.end("ok");
    return;
  }
  if (url.pathname === "/bytes") {
    let left = Number(url.searchParams.get("n") ?? 0);
    res.writeHead(200, {
      "content-type": "application/octet-stream",
      "content-length": String(left),
    });
    const pump = () => {
      while (left > 0) {
        const chunk = left >= CHUNK.length ? CHUNK : CHUNK.subarray(0, left);
        left -= chunk.length;
        if (!res.write(chunk)) {
          res.once("drain", pump);
          return;
        }
      }
      res.end();
    };
    pump();
    return;
  }
  if (url.pathname === "/upload" && req.method === "POST") {
    let received = 0;
    req.on("data", (chunk: Buffer) => (received += chunk.length));
    req.on("end", () => {
      const body = String(received);
      res.writeHead(200, { "content-type": "text/plain", "content-length": String(body.length) });
      res.end(body);
    });
    return;
  }
  res.writeHead(404, { "content-length": "0" });
  res.end();
});
server.keepAliveTimeout = 120_000;

const wss = new WebSocketServer({ server, path: "/ws", perMessageDeflate: false });
wss.on("connection", (ws) => {
  ws.on("message", (data, isBinary) => ws.send(data, { binary: isBinary }));
});

server.listen(0, listenHost(), () => {
  serveParent({ port: (server.address() as AddressInfo).port }, {});
});
