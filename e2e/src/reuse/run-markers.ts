/** The fixtures' marker files: one `<task>-<uuid>.run` per run of a task, so a test counts what ran. */
import { chmod, mkdtemp, readdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** A directory every attempt can write: 0777, since each attempt runs as its own user. */
export async function runDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "drydock-e2e-runs-"));
  await chmod(dir, 0o777);
  return dir;
}

/** How many times `task` ran, by its marker files in `dir`. */
export async function runsOf(dir: string, task: string): Promise<number> {
  return (await readdir(dir)).filter((f) => f.startsWith(`${task}-`) && f.endsWith(".run")).length;
}
