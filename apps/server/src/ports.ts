import { createServer } from "node:net";

/**
 * Fails with the listen error (EADDRINUSE, EACCES, …) if `port` on `host` cannot be listened on now, so a
 * start that would fail on its port fails before it touches anything. Port 0 (any free port) always passes.
 */
export async function assertPortFree(host: string, port: number): Promise<void> {
  if (port === 0) return;
  const probe = createServer();
  await new Promise<void>((resolve, reject) => {
    probe.once("error", reject);
    probe.listen({ host, port, exclusive: true }, () => probe.close(() => resolve()));
  });
}
