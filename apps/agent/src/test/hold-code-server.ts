/**
 * Test helper process: starts code-server the way the agent does, prints `pid <n>` and waits to be killed —
 * so a test can SIGKILL it and see what becomes of code-server.
 */
import { join } from "node:path";

import { findCodeServer, startCodeServer } from "../ide/code-server.js";
import { defaultIdeDir } from "../ide/runtime.js";

const [dir] = process.argv.slice(2);
if (!dir) throw new Error("usage: hold-code-server.ts <dir>");
const bin = await findCodeServer({ ideDir: defaultIdeDir(process.env) });
const ide = await startCodeServer({
  bin,
  listen: { socketPath: join(dir, "held.sock") },
  workspace: dir,
  profileDir: join(dir, "held-profile"),
  env: { PATH: process.env.PATH },
});
process.stdout.write(`pid ${ide.pid}\n`);
setInterval(() => undefined, 60_000);
