/**
 * The README's quick start on a machine that has never seen Drydock: a brand-new container of the offline
 * base image (Debian and Node only: no compiler, no code-server, no ripgrep, no caches, an empty home), holding
 * the working tree as a clean clone would (no node_modules, no dist). In it, as a new user would:
 *   1. `pnpm start`: install, build, start, launch wf, print the console link. The agent provisions the IDE
 *      runtime itself (as root on Debian: the build tools with apt-get first); then Chromium, on this machine,
 *      launches, debugs, edits and resumes the hello example through the printed link.
 *   2. `pnpm stack:up` with image names no earlier test built: the Docker tools installed by the script itself,
 *      the images built, every service answering before the console URL is printed; the same again, on
 *      the compose stack; then `pnpm stack:down`.
 * The container shares this machine's network (the browser reaches its loopback ports) and Docker engine
 * (the stack's containers are its siblings); it may mount, for debootstrap. Everything it made is removed.
 */
import { execFile, spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";

import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { freePort, launchChromium, ROOT, waitFor } from "./harness.js";
import { ideLink, launchDebugAndResume, pane } from "./debug-and-resume.js";
import { printedSignInLink } from "./sign-in.js";

const run = promisify(execFile);
const SHOTS = join(ROOT, "e2e/artifacts/fresh-machine");
const NAME = `drydock-fresh-${randomBytes(4).toString("hex")}`;
/** Image names nothing else builds: the stack's images, and the ImageSpec image of the hello example. */
const PREFIX = NAME;
const BASE_IMAGE = `${NAME}-base:bookworm`;
const HOME_IN = "/root";
const REPO_IN = "/work/drydock";

let browser: Browser | undefined;
let started: ChildProcess | undefined;
let startOutput = "";
let stackUp = false;
let imagesBefore = new Set<string>();

/** Every tagged image of the engine, as repository:tag. */
async function images(): Promise<string[]> {
  const { stdout } = await run("docker", ["images", "--format", "{{.Repository}}:{{.Tag}}"]);
  return stdout.split("\n").filter((image) => image && !image.includes("<none>"));
}

/** A shell command in the fresh machine, in the clone, as root with the machine's own environment. */
async function inside(
  command: string,
  env: Record<string, string> = {},
  timeoutMs = 30 * 60_000,
): Promise<{ code: number; output: string }> {
  const flags = Object.entries(env).flatMap(([key, value]) => ["--env", `${key}=${value}`]);
  return new Promise((resolve) => {
    const child = spawn(
      "docker",
      ["exec", ...flags, "--workdir", REPO_IN, NAME, "bash", "-c", `${command} 2>&1`],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, output });
    });
  });
}

/** What the output says took how long, for the log of this run. */
const report = (what: string, since: number, output: string) =>
  process.stdout.write(
    `fresh machine: ${what} in ${((Date.now() - since) / 1000).toFixed(0)} s\n${output.slice(-6_000)}\n`,
  );

beforeAll(async () => {
  imagesBefore = new Set(await images());
  await rm(SHOTS, { recursive: true, force: true });
  await mkdir(SHOTS, { recursive: true });
  // The offline base image (Debian + Node + npm), under a name of this run's own, so it holds nothing of an earlier test.
  await run("bash", [join(ROOT, "infra/images/base/build.sh"), BASE_IMAGE], {
    maxBuffer: 16 * 1024 * 1024,
    timeout: 15 * 60_000,
  });
  await run("docker", [
    // SYS_ADMIN: debootstrap mounts /proc in the rootfs it makes (a fully privileged container is refused here).
    "run",
    "--detach",
    "--name",
    NAME,
    "--network",
    "host",
    "--cap-add",
    "SYS_ADMIN",
    "--volume",
    "/var/run/docker.sock:/var/run/docker.sock",
    "--env",
    `HOME=${HOME_IN}`,
    "--env",
    "CI=true",
    BASE_IMAGE,
    "sleep",
    "infinity",
  ]);
  // The working tree as a clean clone holds it: tracked and new files, nothing ignored (no node_modules, no dist).
  await run("docker", ["exec", NAME, "mkdir", "-p", REPO_IN]);
  await run(
    "bash",
    [
      "-c",
      `git ls-files -z --cached --others --exclude-standard | tar --null -T - -c | docker exec -i ${NAME} tar -x -C ${REPO_IN}`,
    ],
    { cwd: ROOT, maxBuffer: 16 * 1024 * 1024 },
  );
  // What the README asks of a machine: Node 20 (the image has it) and pnpm 10.
  const pnpm = await inside("npm install --global --no-fund --no-audit pnpm@10 && pnpm --version");
  expect(pnpm.code, pnpm.output).toBe(0);
  // Nothing of Drydock or its IDE is there.
  const bare = await inside(
    'for c in code-server rg cc c++ make python3 docker docker-compose; do command -v $c && echo "found $c"; done; ls -A ~ ; true',
  );
  expect(bare.output).not.toMatch(/found /);
  expect(bare.output).not.toMatch(/\.cache|\.drydock/);
}, 20 * 60_000);

afterAll(async () => {
  await browser?.close();
  started?.kill("SIGKILL");
  if (stackUp)
    await inside(
      "bash infra/stack.sh purge",
      { COMPOSE_PROJECT_NAME: NAME, DRYDOCK_IMAGE_PREFIX: PREFIX },
      5 * 60_000,
    );
  await run("docker", ["rm", "--force", NAME]).catch(() => undefined);
  // The images this run built: the base, the stack's, and the hello example's ImageSpec image on them.
  const ours = (await images()).filter(
    (image) =>
      image.startsWith(`${PREFIX}/`) || image.startsWith(`${NAME}-`) || !imagesBefore.has(image),
  );
  if (ours.length > 0) await run("docker", ["rmi", "--force", ...ours]).catch(() => undefined);
}, 10 * 60_000);

describe("the README's quick start on a fresh machine", () => {
  it(
    "pnpm start installs, builds, provisions the IDE itself and prints a link into the console, where wf debugs, edits and resumes",
    async () => {
      const since = Date.now();
      started = spawn(
        "docker",
        ["exec", "--workdir", REPO_IN, NAME, "bash", "-c", "pnpm start 2>&1"],
        { stdio: ["ignore", "pipe", "pipe"] },
      );
      started.stdout?.on("data", (chunk: Buffer) => (startOutput += chunk.toString()));
      const link = await waitFor(
        "pnpm start to print the console link",
        async () => {
          if (started?.exitCode !== null)
            throw new Error(
              `pnpm start exited with ${started?.exitCode}:\n${startOutput.slice(-8_000)}`,
            );
          return startOutput.match(/open it in the console: (\S+)/)?.[1];
        },
        30 * 60_000,
      );
      report("pnpm start printed the console link", since, startOutput);
      // The IDE runtime was installed by Drydock, with progress on the terminal, before anything was launched.
      expect(startOutput).toMatch(
        /installing code-server [\d.]+ on Node [\d.]+ into \/root\/\.cache\/drydock\/ide\//,
      );
      expect(startOutput).toMatch(/code-server [\d.]+ installed in \d+ s: /);
      // Never minutes of silence: a line every 15 s while a long step (compiling) runs.
      expect(startOutput).toMatch(/… native modules \(\d+ s\)/);
      expect(startOutput.indexOf("installed in")).toBeLessThan(startOutput.indexOf("launched wf"));

      browser = await launchChromium();
      const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
      const page = await context.newPage();
      // The one-time link printed with the URLs signs in; the launch's link opens the execution with say_hello's
      // pane: its IDE gets ready. No URL printed holds the long-lived token.
      const signIn = printedSignInLink(startOutput);
      expect(signIn).toBeDefined();
      const { token: localToken } = JSON.parse(
        (await inside(`cat ${HOME_IN}/.drydock/context.json`)).output,
      ) as { token: string };
      expect(localToken).not.toBe("");
      expect(startOutput).not.toContain(localToken);
      await page.goto(signIn ?? "");
      await page.goto(link);
      await pane(page).locator('[data-status="RUNNING"]').first().waitFor({ timeout: 60_000 });
      await ideLink(page).waitFor({ timeout: 120_000 });
      const origin = new URL(link).origin;
      const { id } = await launchDebugAndResume(context, page, {
        consoleOrigin: origin,
        shots: SHOTS,
      });
      expect(id).toMatch(/^x/);
      await context.close();

      // Ctrl-C: drydock up stops everything it started.
      await inside("pkill -INT -f 'cli.js up --launch'");
      await waitFor(
        "pnpm start to end",
        async () => (started?.exitCode !== null ? true : undefined),
        60_000,
      );
      const left = await inside(
        "ps -eo args | grep -E 'code-server|postgres|drydock' | grep -v grep || true",
      );
      expect(left.output.trim()).toBe("");
    },
    45 * 60_000,
  );

  it(
    "pnpm stack:up installs what it needs, builds images of new names, prints the console URL once every service answers; stack:down stops it",
    async () => {
      const [port, relayPort] = [await freePort(), await freePort()];
      const env = {
        COMPOSE_PROJECT_NAME: NAME,
        DRYDOCK_IMAGE_PREFIX: PREFIX,
        DRYDOCK_NETWORK: NAME,
        DRYDOCK_PUBLISHED_PORT: String(port),
        DRYDOCK_RELAY_PUBLISHED_PORT: String(relayPort),
        DRYDOCK_PUBLIC_URL: `http://localhost:${port}`,
        DRYDOCK_IDE_ORIGIN: `http://localhost:${relayPort}`,
      };
      const since = Date.now();
      stackUp = true;
      const up = await inside("pnpm stack:up", env);
      report("pnpm stack:up", since, up.output);
      expect(up.code, up.output).toBe(0);
      // It installed Docker's client, compose and debootstrap itself; the images are this run's own.
      expect(up.output).toMatch(/installing .*docker\.io.* with apt-get/);
      expect(up.output).toContain(`built ${PREFIX}/agent:latest`);
      expect(up.output).toContain(`built ${PREFIX}/server:latest`);
      // The console line is a one-time sign-in link; the token stays in the stack's env file.
      const consoleUrl = printedSignInLink(up.output);
      expect(consoleUrl).toBeDefined();
      const token = (await inside("sed -n 's/^DRYDOCK_TOKEN=//p' infra/.env")).output.trim();
      expect(token).not.toBe("");
      expect(up.output).not.toContain(token);
      // Printed only once every service answered: it answers now, at once.
      expect((await fetch(`http://localhost:${port}/healthz`)).status).toBe(200);
      expect((await fetch(`http://localhost:${relayPort}/healthz`)).status).toBe(200);

      // The same on the stack: wf registered from the fresh machine, its ImageSpec image built on the new agent image.
      const registered = await inside("pnpm drydock register examples/hello/workflow.ts", {
        DRYDOCK_ENDPOINT: `http://localhost:${port}`,
        DRYDOCK_TOKEN: token,
        DRYDOCK_TASK_BASE_IMAGE: `${PREFIX}/agent:latest`,
      });
      expect(registered.code, registered.output).toBe(0);
      browser ??= await launchChromium();
      const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
      const page = await context.newPage();
      await page.goto(consoleUrl ?? "");
      await launchDebugAndResume(context, page, { consoleOrigin: `http://localhost:${port}` });
      await context.close();

      const down = await inside("pnpm stack:down", env, 5 * 60_000);
      expect(down.code, down.output).toBe(0);
      const { stdout } = await run("docker", [
        "ps",
        "--all",
        "--filter",
        `label=com.docker.compose.project=${NAME}`,
        "--format",
        "{{.Names}}",
      ]);
      expect(stdout.trim()).toBe("");
    },
    45 * 60_000,
  );
});
