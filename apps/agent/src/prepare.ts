#!/usr/bin/env node
/**
 * `node dist/prepare.js`: readies a machine or an image for interactive sessions ahead of time, so that no
 * session waits for a download or an install: checks that code-server is there and installs the default
 * extension set into the shared cache (`DRYDOCK_CACHE_DIR`), where every session then finds it. The agent
 * image runs it at build time, with no network. Exits 1 naming what is missing or failed.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { loadPrepareConfig } from "./env.js";
import { findCodeServer } from "./ide/code-server.js";
import { installExtensions } from "./ide/extensions.js";

const config = loadPrepareConfig();
const scratch = await mkdtemp(join(tmpdir(), "drydock-prepare-"));
try {
  const bin = await findCodeServer({ cacheDir: config.cacheDir, pathEnv: config.childEnv.PATH });
  process.stdout.write(`code-server: ${bin}\n`);
  if (config.defaultExtensions.length > 0) {
    const { installed, problems, extensionsDir } = await installExtensions({
      bin,
      extensions: config.defaultExtensions,
      cacheDir: config.cacheDir,
      userDataDir: join(scratch, "profile", "data"),
      env: { ...config.childEnv, TMPDIR: scratch },
      onProgress: (line) => process.stdout.write(`${line}\n`),
    });
    if (problems.length > 0) throw new Error(`could not install ${problems.map((p) => `${p.extension}: ${p.message}`).join("; ")}`);
    process.stdout.write(`default extensions installed in ${extensionsDir ?? "(none)"}: ${installed.join(", ")}\n`);
  }
} catch (error) {
  process.stderr.write(`drydock-agent prepare: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
} finally {
  await rm(scratch, { recursive: true, force: true });
}
