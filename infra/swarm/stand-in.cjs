// A stand-in for a Drydock server or relay in the test bed's smoke test (engines.sh smoke): answers every request
// with who it is, as JSON; takes any Upgrade (an agent's `drydock-tunnel/1`, a WebSocket) with a 101 and echoes
// the bytes after it; `GET /__exit` ends the process, as a crashed replica would.
const http = require("node:http");
const os = require("node:os");
const { randomBytes } = require("node:crypto");

const port = Number(process.env.PORT ?? 8080);
const instance = `${os.hostname()}#${randomBytes(3).toString("hex")}`;
const who = () => ({ host: os.hostname(), instance, role: process.env.ROLE ?? "smoke" });

const server = http.createServer((req, res) => {
  if (req.url === "/__exit") {
    res.end(JSON.stringify(who()));
    setImmediate(() => process.exit(1));
    return;
  }
  res.setHeader("content-type", "application/json");
  res.end(JSON.stringify({ ...who(), hostHeader: req.headers.host, url: req.url }));
});
server.on("upgrade", (req, socket, head) => {
  socket.write(
    `HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: ${req.headers.upgrade}\r\n` +
      `X-Instance: ${instance}\r\n\r\n`,
  );
  if (head.length) socket.write(head);
  socket.pipe(socket);
  socket.on("error", () => socket.destroy());
});
server.listen(port, "0.0.0.0");
process.on("SIGTERM", () => process.exit(0));
