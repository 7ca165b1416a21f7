/**
 * VS Code extensions for a session: `.vsix` URLs are downloaded once per machine into the cache, local
 * paths are used as they are, and all of them are installed by one code-server call. A bad extension becomes
 * a reported problem, never an exception: the IDE opens without it.
 */
import { spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { constants, createWriteStream } from "node:fs";
import { access, cp, mkdir, open, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { fileURLToPath } from "node:url";

import type { ExtensionProblem } from "@drydock/contracts";

export interface InstallExtensionsOptions {
  /** The code-server binary. */
  bin: string;
  /** `.vsix` URLs (http, https) or local paths (a `file:` URL too). */
  extensions: readonly string[];
  /**
   * The machine's shared cache: downloads go to `<cacheDir>/extensions/<sha256 of the URL>.vsix`, and each set
   * of .vsix files is installed once, into `<cacheDir>/extension-sets/<key>`, which every session with that
   * set then uses as its extensions directory.
   */
  cacheDir: string;
  /**
   * A cache laid out as `cacheDir` that someone else keeps, read-only here: a set installed there is copied into
   * `cacheDir` rather than installed again (the local executor's server installs the default set there once for
   * its attempts' users, whose own caches live as long as their attempt).
   */
  sharedCacheDir?: string;
  /** The session's user data directory (the install call needs one). */
  userDataDir: string;
  /** code-server's environment; HOME becomes the parent of `userDataDir` (the session's profile, as startCodeServer does). */
  env: Record<string, string | undefined>;
  /** One line per event, for the task log. */
  onProgress?: (line: string) => void;
  /** Aborting kills the download or the install and rejects with the signal's reason. */
  signal?: AbortSignal;
  /** Limit for one download (default 60 s). */
  downloadTimeoutMs?: number;
  /** Limit for the code-server install call (default 5 min). */
  installTimeoutMs?: number;
}

export interface InstalledExtensions {
  /** Every extension in `extensionsDir`, as code-server lists them (`publisher.name`). */
  installed: string[];
  /** One per extension that is not installed, named as it was given (URL or path). */
  problems: ExtensionProblem[];
  /** Where they are installed, for code-server's `--extensions-dir`; undefined when there was nothing to install. */
  extensionsDir: string | undefined;
}

/** What a set's directory records once installed: the extensions in it, and why any of its files failed (by sha256). */
const SET_RECORD = ".drydock-set.json";
interface SetRecord {
  installed: string[];
  failures: Record<string, string>;
}

/** JavaScript callers can pass anything: the list must hold non-empty strings (URLs or paths). */
function isExtensionList(value: unknown): value is readonly string[] {
  return Array.isArray(value) && value.every((e) => typeof e === "string" && e.trim() !== "");
}

/** One call of installExtensions: what it was asked, and where it says what happened. */
interface InstallRun {
  options: InstallExtensionsOptions;
  /** code-server's environment, with the session's HOME. */
  env: Record<string, string | undefined>;
  progress: (line: string) => void;
  problems: ExtensionProblem[];
}

/** An extension as given, its .vsix file on this machine, and that file's sha256. */
interface LocalVsix {
  extension: string;
  file: string;
  /** Downloaded into the cache (rather than a path given by the task). */
  cached: boolean;
  sha256: string;
}

/**
 * Installs the extensions in one code-server call, once per set of files per machine; never throws for a bad extension.
 * @example const { installed, problems, extensionsDir } = await installExtensions({ bin, extensions: [url], cacheDir, userDataDir, env });
 */
export async function installExtensions(
  options: InstallExtensionsOptions,
): Promise<InstalledExtensions> {
  if (!options.bin)
    throw new TypeError("installExtensions: bin (the code-server binary) is required");
  if (!isExtensionList(options.extensions)) {
    throw new TypeError("installExtensions: extensions must be a list of .vsix URLs or paths");
  }
  const run: InstallRun = {
    options,
    env: { ...options.env, HOME: dirname(options.userDataDir) },
    progress: options.onProgress ?? (() => {}),
    problems: [],
  };
  const ready = await resolveAll(run, [...new Set(options.extensions)]);
  if (ready.length === 0)
    return { installed: [], problems: run.problems, extensionsDir: undefined };

  // A set is its files' contents: the same files, from any URL or path, are installed once per machine.
  const setsDir = join(options.cacheDir, "extension-sets");
  const setDir = join(
    setsDir,
    createHash("sha256")
      .update(
        ready
          .map((r) => r.sha256)
          .sort()
          .join("\n"),
      )
      .digest("hex")
      .slice(0, 32),
  );
  const known = await readSetRecord(setDir);
  if (known) {
    run.progress(`using installed extensions: ${known.installed.join(", ") || "none"}`);
    return reportSet(run, ready, known, setDir);
  }
  const copied = options.sharedCacheDir
    ? await copySharedSet(
        run,
        join(options.sharedCacheDir, "extension-sets", basename(setDir)),
        setsDir,
        setDir,
      )
    : undefined;
  if (copied) {
    run.progress(
      `using the machine's installed extensions: ${copied.installed.join(", ") || "none"}`,
    );
    return reportSet(run, ready, copied, setDir);
  }
  const record = await installSet(run, ready, setsDir, setDir);
  // A set that could not be listed is not kept: the next session tries again.
  if (!record) return { installed: [], problems: run.problems, extensionsDir: undefined };
  return reportSet(run, ready, record, setDir);
}

/** Each extension's .vsix on this machine, resolved in parallel; one that cannot be had becomes a problem. */
async function resolveAll(run: InstallRun, extensions: string[]): Promise<LocalVsix[]> {
  const resolved = await Promise.all(
    extensions.map(async (extension) => {
      try {
        return { extension, ...(await resolveVsix(extension, run.options, run.progress)) };
      } catch (error) {
        run.options.signal?.throwIfAborted();
        run.problems.push({ extension, message: (error as Error).message });
        run.progress(`extension ${extension}: ${(error as Error).message}`);
        return undefined;
      }
    }),
  );
  const ready = resolved.filter((r) => r !== undefined);
  const hashes = await Promise.all(ready.map((r) => fileSha256(r.file)));
  return ready.map((r, i) => ({ ...r, sha256: hashes[i] ?? "" }));
}

/** The set's outcome for this session: its extensions, and a problem for each of ours it failed to install. */
function reportSet(
  run: InstallRun,
  ready: LocalVsix[],
  record: SetRecord,
  setDir: string,
): InstalledExtensions {
  for (const { extension, sha256 } of ready) {
    const failure = record.failures[sha256];
    if (failure === undefined) continue;
    run.problems.push({ extension, message: failure });
    run.progress(`extension ${extension}: ${failure}`);
  }
  return { installed: record.installed, problems: run.problems, extensionsDir: setDir };
}

/**
 * Installs the set into a private directory, then renames it into place: a session sees a complete set or none.
 * (code-server's extensions.json locates each extension relative to its directory, so the rename is safe.)
 * Undefined when code-server could not list what it installed.
 */
async function installSet(
  run: InstallRun,
  ready: LocalVsix[],
  setsDir: string,
  setDir: string,
): Promise<SetRecord | undefined> {
  const { options, env } = run;
  const staging = join(
    setsDir,
    `.${basename(setDir)}.${process.pid}-${randomBytes(4).toString("hex")}.partial`,
  );
  try {
    await mkdir(staging, { recursive: true });
    await mkdir(options.userDataDir, { recursive: true });
    const failures = await refusedFiles(ready, await runInstall(run, ready, staging));
    const installed = await listExtensions(options.bin, staging, env).catch((error: Error) => {
      run.problems.push({
        extension: staging,
        message: `code-server could not list the installed extensions: ${error.message}`,
      });
      return undefined;
    });
    if (!installed) return undefined;
    const record: SetRecord = { installed, failures };
    await writeFile(join(staging, SET_RECORD), JSON.stringify(record));
    await rename(staging, setDir).catch(async (error: NodeJS.ErrnoException) => {
      // Another agent installed the same set meanwhile: theirs is as good.
      if (!(await readSetRecord(setDir))) throw error;
    });
    return record;
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

/**
 * The set installed in the shared cache, copied into ours (a private copy renamed into place, as installSet
 * does); undefined when the shared cache does not have it or it cannot be copied (the session then installs).
 */
async function copySharedSet(
  run: InstallRun,
  sharedSet: string,
  setsDir: string,
  setDir: string,
): Promise<SetRecord | undefined> {
  const record = await readSetRecord(sharedSet).catch(() => undefined);
  if (!record) return undefined;
  const staging = join(
    setsDir,
    `.${basename(setDir)}.${process.pid}-${randomBytes(4).toString("hex")}.partial`,
  );
  try {
    await mkdir(setsDir, { recursive: true });
    await cp(sharedSet, staging, { recursive: true });
    await rename(staging, setDir).catch(async (error: NodeJS.ErrnoException) => {
      if (!(await readSetRecord(setDir))) throw error;
    });
    return record;
  } catch (error) {
    run.progress(
      `could not copy the machine's installed extensions (${(error as Error).message}): installing them`,
    );
    return undefined;
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

/** The one code-server call that installs every file into `extensionsDir`, saying which it installed. */
function runInstall(
  run: InstallRun,
  ready: LocalVsix[],
  extensionsDir: string,
): Promise<CliResult> {
  const { options, progress } = run;
  const args = ["--extensions-dir", extensionsDir, "--user-data-dir", options.userDataDir];
  for (const { file } of ready) args.push("--install-extension", file);
  progress(`installing ${ready.length} extension${ready.length === 1 ? "" : "s"}`);
  return runCli(
    options.bin,
    args,
    run.env,
    options.installTimeoutMs ?? 300_000,
    options.signal,
    (line) => {
      const success = /^Extension '(.+)' was successfully installed\.$/.exec(line);
      if (success)
        progress(
          `installed ${ready.find((r) => basename(r.file) === success[1])?.extension ?? success[1]}`,
        );
    },
  );
}

/** Why code-server refused each file it refused, by the file's sha256. */
async function refusedFiles(
  ready: LocalVsix[],
  result: CliResult,
): Promise<Record<string, string>> {
  const failures: Record<string, string> = {};
  for (const { file, cached, sha256 } of ready) {
    const cause = failureOf(file, result);
    if (cause === undefined) continue;
    failures[sha256] = `code-server could not install it: ${cause}`;
    // A download that code-server rejects is not worth keeping: the next session fetches it again.
    if (cached) await rm(file, { force: true });
  }
  return failures;
}

async function readSetRecord(setDir: string): Promise<SetRecord | undefined> {
  const text = await readFile(join(setDir, SET_RECORD), "utf8").catch(() => undefined);
  return text === undefined ? undefined : (JSON.parse(text) as SetRecord);
}

async function fileSha256(file: string): Promise<string> {
  return createHash("sha256")
    .update(await readFile(file))
    .digest("hex");
}

const isReadable = (file: string) =>
  access(file, constants.R_OK).then(
    () => true,
    () => false,
  );

/** The ids (`publisher.name`) of the extensions in `extensionsDir`, as `code-server --list-extensions` prints them. */
export async function listExtensions(
  bin: string,
  extensionsDir: string,
  env: Record<string, string | undefined>,
): Promise<string[]> {
  const result = await runCli(
    bin,
    ["--extensions-dir", extensionsDir, "--list-extensions"],
    env,
    60_000,
  );
  if (result.error || result.code !== 0)
    throw new Error(
      `\`${bin} --list-extensions\` ${result.error ?? `exited with ${result.code}`}: ${result.stderr.slice(-1_000)}`,
    );
  return result.stdout
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => /^[\w-]+\.[\w.-]+$/.test(line));
}

async function resolveVsix(
  extension: string,
  options: InstallExtensionsOptions,
  progress: (line: string) => void,
): Promise<{ file: string; cached: boolean }> {
  if (/^https?:\/\//i.test(extension)) {
    const file = await download(extension, options, progress);
    // Only our own cache's copy is ours to remove (when code-server refuses it), not the shared cache's.
    return { file, cached: dirname(file) === join(options.cacheDir, "extensions") };
  }
  if (/^[a-z][a-z0-9+.-]+:\/\//i.test(extension) && !extension.startsWith("file:")) {
    throw new Error(`unsupported URL scheme (use http, https or a local path)`);
  }
  const file = extension.startsWith("file:") ? fileURLToPath(extension) : resolve(extension);
  const info = await stat(file).catch(() => undefined);
  if (!info?.isFile()) throw new Error(`no such file: ${file}`);
  await assertZip(file);
  return { file, cached: false };
}

/** The cached copy of `url`, downloading it first if no agent has yet. */
async function download(
  url: string,
  options: InstallExtensionsOptions,
  progress: (line: string) => void,
): Promise<string> {
  const dir = join(options.cacheDir, "extensions");
  const name = `${createHash("sha256").update(url).digest("hex")}.vsix`;
  const file = join(dir, name);
  // Ours, else the shared cache's (read only: code-server only reads it).
  for (const cached of [
    file,
    ...(options.sharedCacheDir ? [join(options.sharedCacheDir, "extensions", name)] : []),
  ]) {
    if (await isReadable(cached)) {
      progress(`using cached ${url}`);
      return cached;
    }
  }
  progress(`downloading ${url}`);
  await mkdir(dir, { recursive: true });
  const timeoutMs = options.downloadTimeoutMs ?? 60_000;
  const timeout = AbortSignal.timeout(timeoutMs);
  const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
  // Written under a private name and renamed: other agents see no file or a complete one.
  const partial = join(
    dir,
    `.${basename(file)}.${process.pid}-${randomBytes(4).toString("hex")}.partial`,
  );
  try {
    const response = await fetch(url, { signal, redirect: "follow" });
    if (!response.ok || !response.body) {
      await response.body?.cancel();
      throw new Error(`${response.status} ${response.statusText}`.trim());
    }
    await pipeline(Readable.fromWeb(response.body), createWriteStream(partial), { signal });
    await assertZip(partial, response.headers.get("content-type"));
    await rename(partial, file);
    progress(`downloaded ${url}`);
    return file;
  } catch (error) {
    options.signal?.throwIfAborted();
    if (timeout.aborted)
      throw new Error(
        `download timed out after ${timeoutMs % 1000 === 0 ? `${timeoutMs / 1000} s` : `${timeoutMs} ms`}`,
        { cause: error },
      );
    throw new Error(`download failed: ${describeFetchError(error)}`, { cause: error });
  } finally {
    await rm(partial, { force: true });
  }
}

function describeFetchError(error: unknown): string {
  const err = error as Error & { cause?: { code?: string; message?: string } };
  const cause = err.cause?.code ?? err.cause?.message;
  return cause && !err.message.includes(cause) ? `${err.message} (${cause})` : err.message;
}

/** A .vsix is a zip: refuse anything else (an HTML error page served with 200, say) before code-server sees it. */
async function assertZip(file: string, contentType?: string | null) {
  const handle = await open(file, "r");
  try {
    const { buffer, bytesRead } = await handle.read(Buffer.alloc(4), 0, 4, 0);
    if (bytesRead === 4 && buffer.readUInt32LE(0) === 0x04034b50) return;
    const what =
      bytesRead === 0
        ? "an empty file"
        : `${contentType ? `${contentType}, ` : ""}starting ${JSON.stringify(buffer.subarray(0, bytesRead).toString("latin1"))}`;
    throw new Error(`not a .vsix (zip) file: ${what}`);
  } finally {
    await handle.close();
  }
}

interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
  error?: string;
}

/**
 * Why code-server failed to install `file`, or undefined if it did not. It ends a failed call with
 * `Failed Installing Extensions: <file URIs>` after logging one error per failed .vsix, in that same order.
 */
function failureOf(file: string, result: CliResult): string | undefined {
  if (result.error) return result.error;
  const lines = result.stderr.split("\n");
  const summary = lines.find((line) => line.startsWith("Failed Installing Extensions: "));
  if (!summary)
    return result.code === 0 ? undefined : `it exited with ${result.code}: ${tailOf(result)}`;
  const failed = summary.slice("Failed Installing Extensions: ".length).split(", ").map(toPath);
  const index = failed.indexOf(file);
  if (index < 0) return undefined;
  const errors = lines.filter(
    (line) => /^\w*Error: /.test(line) && !line.includes("Failed Installing Extensions"),
  );
  const own = errors.length === failed.length ? errors[index] : undefined;
  return own ? own.replace(/^\w*Error: /, "") : errors.join("; ") || summary;
}

function toPath(uri: string): string {
  try {
    return fileURLToPath(uri.trim());
  } catch {
    return uri.trim();
  }
}

const tailOf = (result: CliResult) =>
  `${result.stdout}\n${result.stderr}`.trim().split("\n").slice(-10).join("\n");

/** Runs a code-server CLI command in its own process group (killed on timeout or abort). */
async function runCli(
  bin: string,
  args: string[],
  env: Record<string, string | undefined>,
  timeoutMs: number,
  signal?: AbortSignal,
  onLine?: (line: string) => void,
): Promise<CliResult> {
  signal?.throwIfAborted();
  const result = await new Promise<CliResult>((resolvePromise) => {
    const child = spawn(bin, args, { env, detached: true, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    let pending = "";
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
      const lines = (pending + chunk.toString()).split("\n");
      pending = lines.pop() ?? "";
      for (const line of lines) onLine?.(line.trim());
    });
    child.stderr.on(
      "data",
      (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-20_000)),
    );
    let error: string | undefined;
    const kill = (why: string) => {
      error = why;
      if (child.pid === undefined) return;
      try {
        process.kill(-child.pid, "SIGKILL");
      } catch {
        // already gone
      }
    };
    const timer = setTimeout(
      () => kill(`took longer than ${Math.round(timeoutMs / 1000)} s`),
      timeoutMs,
    );
    const onAbort = () => kill("aborted");
    signal?.addEventListener("abort", onAbort, { once: true });
    let done = false;
    const finish = (code: number | null) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      if (pending) onLine?.(pending.trim());
      resolvePromise({ code, stdout, stderr, error });
    };
    child.once("error", (err) => {
      error = `could not run ${bin}: ${err.message}`;
      finish(null);
    });
    child.once("close", (code) => finish(code));
  });
  // An aborted run rejects with the signal's reason, however the process ended.
  signal?.throwIfAborted();
  return result;
}
