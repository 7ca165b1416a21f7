import { link, mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";

/** A data directory the server cannot use; its message is one line naming the directory and the cause. */
export class DataDirError extends Error {
  override name = "DataDirError";
}

const CAUSES: Record<string, string> = {
  EACCES: "permission denied",
  EPERM: "operation not permitted",
  EROFS: "read-only file system",
  ENOTDIR: "a part of the path is not a directory",
  EEXIST: "a file is in the way",
  ENOSPC: "no space left on the device",
  EDQUOT: "disk quota exceeded",
};

/** Turns a filesystem error met while preparing `dir` into one line: which directory, which call, why. */
export function cannotUse(dir: string, error: unknown): DataDirError {
  const e = error as NodeJS.ErrnoException;
  const cause = (e.code && CAUSES[e.code]) ?? e.message;
  const where = e.syscall && e.path ? ` (${e.syscall} ${e.path}: ${e.code})` : "";
  return new DataDirError(`cannot use ${dir} as the data directory: ${cause}${where}`, {
    cause: error,
  });
}

export interface DataDirLock {
  dir: string;
  /** Removes the lock file, if it is still this lock's. */
  release(): Promise<void>;
}

const LOCK_FILE = "server.pid";

/**
 * When `pid` started (field 22 of /proc/<pid>/stat, in clock ticks since boot), so that a pid recycled by
 * another process is not taken for the server that held a lock; "" where there is no /proc.
 */
async function startTime(pid: number): Promise<string> {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => "");
  // The command name (field 2) may hold spaces and parentheses: count from the last ")".
  const [state, ...rest] = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // A zombie (killed, not yet reaped by its parent) holds nothing any more.
  if (state === "Z" || state === "X") return "exited";
  return rest[18] ?? "";
}

/** The holder named by a lock file's text (`<pid>\n<start time>\n`), if that process still runs. */
async function runningHolder(text: string): Promise<number | undefined> {
  const [pidText = "", started = ""] = text.split("\n");
  const pid = Number(pidText);
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  try {
    process.kill(pid, 0);
  } catch (error) {
    // EPERM: it runs, as another user.
    if ((error as NodeJS.ErrnoException).code !== "EPERM") return undefined;
  }
  return (await startTime(pid)) === started ? pid : undefined;
}

/** Creates `file` holding `text` if no such file exists, atomically: it never exists half-written. */
async function createExclusive(file: string, text: string): Promise<boolean> {
  const temp = `${file}.${process.pid}.tmp`;
  await writeFile(temp, text, { mode: 0o600 });
  try {
    await link(temp, file);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw error;
  } finally {
    await rm(temp, { force: true });
  }
}

/**
 * Removes a stale lock file whose text was `stale`. Two servers may find the same stale lock at once: each
 * moves the file aside (atomic) and checks it moved the stale one; one that moved a lock just taken by the
 * other puts it back, and its next turn finds that server running.
 */
async function removeStale(file: string, stale: string): Promise<void> {
  const aside = `${file}.${process.pid}.stale`;
  try {
    await rename(file, aside);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return;
    throw error;
  }
  if ((await readFile(aside, "utf8").catch(() => stale)) !== stale)
    await link(aside, file).catch(() => undefined);
  await rm(aside, { force: true });
}

/**
 * Takes the data directory for this process, creating it (0700) if needed: a lock file holding this
 * process's pid, refused while the server that wrote it still runs. A lock left by a killed server is taken
 * over. Call it before anything else touches the directory.
 */
export async function lockDataDir(dir: string): Promise<DataDirLock> {
  const file = join(dir, LOCK_FILE);
  const mine = `${process.pid}\n${await startTime(process.pid)}\n`;
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    for (let turn = 0; turn < 5; turn++) {
      if (await createExclusive(file, mine)) {
        return {
          dir,
          release: async () => {
            if ((await readFile(file, "utf8").catch(() => "")) === mine)
              await rm(file, { force: true });
          },
        };
      }
      const text = await readFile(file, "utf8").catch(() => "");
      const holder = await runningHolder(text);
      if (holder !== undefined) {
        throw new DataDirError(
          `the data directory ${dir} is in use by the Drydock server with pid ${holder}: stop it first, or use another data directory`,
        );
      }
      await removeStale(file, text);
    }
  } catch (error) {
    throw error instanceof DataDirError ? error : cannotUse(dir, error);
  }
  throw new DataDirError(
    `could not lock the data directory ${dir}: ${file} keeps changing (another server starting?)`,
  );
}
