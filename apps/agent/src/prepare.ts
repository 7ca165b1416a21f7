#!/usr/bin/env node
/**
 * `node dist/prepare.js`: readies a machine or an image for interactive sessions ahead of time, so that no
 * session waits for a download or an install: installs the IDE runtime into `DRYDOCK_IDE_DIR` unless it is
 * there (provision.ts: from the npm registry, a few minutes once) and the default extension set into the
 * shared cache (`DRYDOCK_CACHE_DIR`), where every session then finds them. The agent image runs it at build
 * time, with no network, on the runtime the build copied in. Exits 1 naming what is missing or failed.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { loadPrepareConfig } from "./env.js";
import { installExtensions } from "./ide/extensions.js";
import { ensureCodeServer } from "./ide/provision.js";

const config = loadPrepareConfig();
// `--print-code-server`: the IDE runtime only, its launcher's path alone on stdout (for scripts).
const printOnly = process.argv.includes("--print-code-server");
const say = (line: string) => (printOnly ? process.stderr : process.stdout).write(`${line}\n`);
const scratch = await mkdtemp(join(tmpdir(), "drydock-prepare-"));
try {
  const bin = await ensureCodeServer({
    ideDir: config.ideDir,
    env: config.childEnv,
    onProgress: say,
  });
  process.stdout.write(printOnly ? `${bin}\n` : `code-server: ${bin}\n`);
  if (!printOnly && config.defaultExtensions.length > 0) {
    const { installed, problems, extensionsDir } = await installExtensions({
      bin,
      extensions: config.defaultExtensions,
      cacheDir: config.cacheDir,
      userDataDir: join(scratch, "profile", "data"),
      env: { ...config.childEnv, TMPDIR: scratch },
      onProgress: say,
    });
    if (problems.length > 0)
      throw new Error(
        `could not install ${problems.map((p) => `${p.extension}: ${p.message}`).join("; ")}`,
      );
    say(`default extensions installed in ${extensionsDir ?? "(none)"}: ${installed.join(", ")}`);
  }
} catch (error) {
  process.stderr.write(
    `drydock-agent prepare: ${error instanceof Error ? error.message : String(error)}\n`,
  );
  process.exitCode = 1;
} finally {
  await rm(scratch, { recursive: true, force: true });
}
