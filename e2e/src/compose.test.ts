/**
 * The whole stack as self-hosters run it: infra/docker-compose.yml (PostgreSQL, the server with the console
 * and the Docker executor, the relay) brought up by `infra/stack.sh up`, every task attempt a container of
 * its task's image. The CLI registers from this machine (building ImageSpec images on the same engine), and
 * Chromium launches, debugs, edits and resumes the hello example against it. Ports, project and network are the test's own, so a stack
 * someone runs here is left alone.
 */
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import {
  apiClient,
  drydock,
  executionEnd,
  example,
  fixture,
  freePort,
  launchChromium,
  ROOT,
  waitFor,
} from "./harness.js";
import type { ApiClient } from "./harness.js";
import { launchDebugAndResume } from "./debug-and-resume.js";
import { signInPage } from "./sign-in.js";

const run = promisify(execFile);
const SHOTS = join(ROOT, "e2e/artifacts/compose");
const PROJECT = "drydock-e2e";
/** The ImageSpec image of fixtures/containers.ts; removed before and after, so the test sees it built. */
const TASK_IMAGE = "drydock-task/e2e-is-number";
/** The hello example's, which the browser test builds. */
const HELLO_IMAGE = "drydock-task/interactive-tasks-example";

let work: string;
let browser: Browser | undefined;
let settings: { port: number; relayPort: number; token: string };
let cli: Record<string, string>;
let api: ApiClient;

/** `infra/stack.sh <args>` for the test's own project and env file. */
async function stack(...args: string[]): Promise<string> {
  const { stdout, stderr } = await run("bash", [join(ROOT, "infra/stack.sh"), ...args], {
    env: {
      ...process.env,
      COMPOSE_PROJECT_NAME: PROJECT,
      DRYDOCK_STACK_ENV: join(work, "stack.env"),
    },
    maxBuffer: 64 * 1024 * 1024,
    timeout: 15 * 60_000,
  });
  return stdout + stderr;
}

/** The containers a label selects (all states), as `name status` lines. */
async function containers(label: string): Promise<string[]> {
  const { stdout } = await run("docker", [
    "ps",
    "--all",
    "--filter",
    `label=${label}`,
    "--format",
    "{{.Names}} {{.Status}}",
  ]);
  return stdout.split("\n").filter(Boolean);
}

async function removeTaskImages(): Promise<void> {
  for (const image of [TASK_IMAGE, HELLO_IMAGE]) {
    const { stdout } = await run("docker", ["images", "--quiet", image]);
    const ids = [...new Set(stdout.split("\n").filter(Boolean))];
    if (ids.length > 0) await run("docker", ["rmi", "--force", ...ids]);
  }
}

/** Waits until the execution's (first) node runs in a container that is up; returns its `name status` lines. */
function runningContainer(id: string): Promise<string[]> {
  return waitFor("the attempt's container", async () => {
    const found = await containers(`drydock.execution=${id}`);
    const node = (await api.executions.get.query({ id })).nodes[0];
    return found.some((c) => c.includes(" Up ")) && node?.status === "RUNNING" ? found : undefined;
  });
}

async function launch(file: string, workflow: string, inputs: string[] = []): Promise<string> {
  const launched = await drydock(["run", "--remote", file, workflow, ...inputs], cli, 10 * 60_000);
  expect(launched.code, launched.stdout + launched.stderr).toBe(0);
  return (launched.stdout + launched.stderr).match(/execution (x[a-z0-9]+) started/)?.[1] ?? "";
}

const finished = (id: string, timeoutMs = 180_000) => executionEnd(api, id, timeoutMs);

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "drydock-e2e-compose-"));
  await rm(SHOTS, { recursive: true, force: true });
  await mkdir(SHOTS, { recursive: true });
  settings = {
    port: await freePort(),
    relayPort: await freePort(),
    token: randomBytes(24).toString("hex"),
  };
  await writeFile(
    join(work, "stack.env"),
    [
      `DRYDOCK_TOKEN=${settings.token}`,
      `DRYDOCK_RELAY_TOKEN=${randomBytes(24).toString("hex")}`,
      `POSTGRES_PASSWORD=${randomBytes(16).toString("hex")}`,
      `DRYDOCK_PUBLISHED_PORT=${settings.port}`,
      `DRYDOCK_RELAY_PUBLISHED_PORT=${settings.relayPort}`,
      `DRYDOCK_PUBLIC_URL=http://localhost:${settings.port}`,
      `DRYDOCK_IDE_ORIGIN=http://localhost:${settings.relayPort}`,
      `DRYDOCK_NETWORK=${PROJECT}`,
      "",
    ].join("\n"),
    { mode: 0o600 },
  );
  // A stack and an image left by an interrupted run of this file.
  await stack("purge").catch(() => undefined);
  await removeTaskImages();
  const started = Date.now();
  const out = await stack("up");
  process.stdout.write(
    `compose stack up in ${((Date.now() - started) / 1000).toFixed(1)} s (images included):\n${out}\n`,
  );
  const endpoint = `http://localhost:${settings.port}`;
  cli = {
    DRYDOCK_ENDPOINT: endpoint,
    DRYDOCK_TOKEN: settings.token,
    DRYDOCK_HOME: join(work, "home"),
  };
  api = apiClient(endpoint, { authorization: `Bearer ${settings.token}` });
}, 20 * 60_000);

afterAll(async () => {
  await browser?.close();
  if (work) {
    await stack("purge").catch((error: unknown) =>
      process.stderr.write(`compose purge failed: ${String(error)}\n`),
    );
    await removeTaskImages();
    await rm(work, { recursive: true, force: true });
  }
}, 5 * 60_000);

describe("the compose stack", () => {
  it("comes up healthy, runs tasks on the Docker executor, and serves the console", async () => {
    const ps = await stack("ps");
    for (const service of ["postgres", "server", "relay"])
      expect(ps).toMatch(new RegExp(`${PROJECT}_${service}_1 .*Up .*\\(healthy\\)`));
    expect(await api.health.query()).toEqual({
      ok: true,
      executor: "docker",
      isolation: "container",
    });
    // The console is served by the server: a one-time sign-in link (asked for with the configured token) sets
    // the cookie, and the page loads with it.
    const link = await api.auth.signInCode.mutate();
    expect(new URL(link.url).origin).toBe(`http://localhost:${settings.port}`);
    expect(link.url).not.toContain(settings.token);
    const signIn = await fetch(link.url, { redirect: "manual" });
    expect(signIn.status).toBe(303);
    const cookie = signIn.headers.get("set-cookie")?.split(";")[0] ?? "";
    expect(cookie).toMatch(/^drydock_console=/);
    const index = await fetch(`http://localhost:${settings.port}/executions`, {
      headers: { cookie, accept: "text/html" },
    });
    expect(index.status).toBe(200);
    expect(await index.text()).toContain('<div id="root">');
  });

  it("has images built offline, and the agent image starts code-server with no network, its default extensions already installed", async () => {
    // infra/images/build.sh builds with `docker build --network none`; beforeAll ran it (on a fresh machine, from scratch).
    for (const image of ["drydock/agent:latest", "drydock/server:latest"]) {
      const { stdout } = await run("docker", [
        "image",
        "inspect",
        "--format",
        '{{index .Config.Labels "drydock.recipe"}} {{index .Config.Labels "drydock.role"}}',
        image,
      ]);
      expect(stdout.trim()).toMatch(/^[0-9a-f]{16} (agent|server)$/);
    }
    const script = [
      "set -e",
      "echo interfaces: $(ls /sys/class/net)",
      "set_dir=$(ls -d /opt/drydock/cache/extension-sets/*/ | head -1)",
      'code-server --extensions-dir "$set_dir" --list-extensions',
      'code-server --auth none --bind-addr 127.0.0.1:8080 --extensions-dir "$set_dir" --user-data-dir /tmp/ide --disable-telemetry /opt/drydock/work >/tmp/ide.log 2>&1 &',
      "for i in $(seq 1 150); do node -e \"fetch('http://127.0.0.1:8080/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))\" && break; sleep 0.2; done",
      "node -e \"fetch('http://127.0.0.1:8080/').then((r) => r.text()).then((t) => console.log(t.includes('workbench') ? 'workbench served' : 'no workbench'))\"",
    ].join("\n");
    const { stdout } = await run(
      "docker",
      [
        "run",
        "--rm",
        "--network",
        "none",
        "--entrypoint",
        "bash",
        "drydock/agent:latest",
        "-c",
        script,
      ],
      { timeout: 120_000 },
    );
    expect(stdout).toContain("interfaces: lo\n");
    expect(stdout).toContain("drydock.drydock");
    expect(stdout).toContain("workbench served");
  });

  it("builds an ImageSpec with an npm package once, reuses it unchanged, and the task importing the package succeeds in its container", async () => {
    const file = fixture("containers.ts");
    const first = await drydock(["register", file], cli, 10 * 60_000);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stderr).toMatch(new RegExp(`built image ${TASK_IMAGE}:[0-9a-f]{16}`));
    const again = await drydock(["register", file], cli, 10 * 60_000);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toMatch(
      new RegExp(`${TASK_IMAGE}:[0-9a-f]{16} is up to date \\(reused\\)`),
    );
    expect(again.stderr).not.toContain("built image");

    const id = await launch(file, "imaged", ["--value", "42"]);
    const detail = await finished(id);
    expect(detail.execution.status, JSON.stringify(detail.execution.error)).toBe("SUCCEEDED");
    expect(detail.execution.result).toBe("42 is a number!");
    // Its container is gone once it ended.
    await waitFor(
      "the attempt's container to be removed",
      async () => ((await containers(`drydock.execution=${id}`)).length === 0 ? true : undefined),
      30_000,
    );
  });

  it("removes an attempt's container when its execution is aborted", async () => {
    const id = await launch(fixture("containers.ts"), "sleepy");
    const running = await runningContainer(id);
    expect(running).toHaveLength(1);
    // Outbound only, on the stack's network, with the task's resource limits.
    const [name] = (running[0] ?? "").split(" ");
    const { stdout } = await run("docker", [
      "inspect",
      "--format",
      "{{.HostConfig.NetworkMode}} {{.HostConfig.NanoCpus}} {{.HostConfig.Memory}} {{json .HostConfig.PortBindings}}",
      name ?? "",
    ]);
    expect(stdout.trim()).toMatch(
      new RegExp(`^${PROJECT} 500000000 ${384 * 1024 * 1024} (null|\\{\\})$`),
    );
    await api.executions.abort.mutate({ id });
    expect((await finished(id)).execution.status).toBe("ABORTED");
    await waitFor(
      "the container to be removed",
      async () => ((await containers(`drydock.execution=${id}`)).length === 0 ? true : undefined),
      30_000,
    );
  });

  it("times an attempt out, and removes its container", async () => {
    const id = await launch(fixture("containers.ts"), "late");
    const detail = await finished(id);
    expect(detail.execution.status).toBe("FAILED");
    expect(detail.nodes[0]?.status).toBe("FAILED");
    expect(detail.nodes[0]?.attempts[0]?.status).toBe("TIMED_OUT");
    await waitFor(
      "the container to be removed",
      async () => ((await containers(`drydock.execution=${id}`)).length === 0 ? true : undefined),
      30_000,
    );
  });

  it("adopts a running task's container after the server crashes and restarts, then aborts it", async () => {
    const id = await launch(fixture("containers.ts"), "sleepy");
    const [before] = await runningContainer(id);
    const server = `${PROJECT}_server_1`;
    await run("docker", ["kill", "--signal", "KILL", server]);
    await run("docker", ["start", server]);
    await waitFor(
      "the server to answer again",
      () =>
        api.health.query().then(
          (h) => h,
          () => undefined,
        ),
      90_000,
    );
    // The same container, still running, and the attempt is the server's again (not lost, not re-run).
    expect((await containers(`drydock.execution=${id}`))[0]?.split(" ")[0]).toBe(
      before?.split(" ")[0],
    );
    const attempts = (await api.executions.get.query({ id })).nodes[0]?.attempts ?? [];
    expect(attempts.map((a) => [a.number, a.status])).toEqual([[1, "RUNNING"]]);
    await api.executions.abort.mutate({ id });
    expect((await finished(id)).execution.status).toBe("ABORTED");
    await waitFor(
      "the container to be removed",
      async () => ((await containers(`drydock.execution=${id}`)).length === 0 ? true : undefined),
      30_000,
    );
  });

  it("resumes an interactive task in its container, and a downstream container reads the outputs it wrote", async () => {
    const id = await launch(fixture("containers.ts"), "handoff", ["--word", "ship"]);
    await waitFor(
      "the producer's IDE to be ready",
      async () => {
        const node = await api.executions.node.query({ executionId: id, nodeId: "n0" });
        return node.attempts.some((a) => a.session?.state === "READY") ? true : undefined;
      },
      180_000,
    );
    // A figure, not a goal checked here: execution created → IDE ready, container start and agent boot included.
    const created = Date.parse((await api.executions.get.query({ id })).execution.createdAt);
    process.stdout.write(
      `compose: execution created → IDE ready in its container: ${((Date.now() - created) / 1000).toFixed(2)} s (polled every 100 ms)\n`,
    );
    await api.sessions.resume.mutate({ executionId: id, nodeId: "n0" });
    const detail = await finished(id);
    expect(detail.execution.status, JSON.stringify(detail.execution.error)).toBe("SUCCEEDED");
    expect(detail.execution.result).toBe("consumed ship-made-in-a-container (4)");
    expect(detail.nodes.map((n) => [n.nodeId, n.status])).toEqual([
      ["n0", "SUCCEEDED"],
      ["n1", "SUCCEEDED"],
    ]);
    await waitFor(
      "no container left",
      async () => ((await containers(`drydock.execution=${id}`)).length === 0 ? true : undefined),
      30_000,
    );
  });

  it(
    "takes the hello example through Chromium: launch wf, VSCode (User) through the relay, debug, edit, resume, SUCCEEDED with the edit",
    async () => {
      const registered = await drydock(
        ["register", example("hello/workflow.ts")],
        cli,
        10 * 60_000,
      );
      expect(registered.code, registered.stderr).toBe(0);
      browser = await launchChromium();
      const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
      const page = await context.newPage();
      await signInPage(page, { api });
      const { id } = await launchDebugAndResume(context, page, {
        consoleOrigin: `http://localhost:${settings.port}`,
        shots: SHOTS,
      });
      expect((await api.executions.get.query({ id })).execution.result).toBe("Howdy, world!");
      await waitFor(
        "the IDE's container to be removed",
        async () => ((await containers(`drydock.execution=${id}`)).length === 0 ? true : undefined),
        30_000,
      );
      await context.close();
    },
    6 * 60_000,
  );

  it(
    "keeps past executions across docker-compose down and up; down ends the running task's container, up runs it again",
    async () => {
      const before = await api.executions.list.query({ project: "default", limit: 50 });
      expect(before.length).toBeGreaterThanOrEqual(6);
      const id = await launch(fixture("containers.ts"), "sleepy");
      await runningContainer(id);
      await stack("down");
      // The server stopped its task containers before it went; nothing of the stack is left.
      expect(await containers(`drydock.execution=${id}`)).toEqual([]);
      expect(await containers(`com.docker.compose.project=${PROJECT}`)).toEqual([]);
      await stack("up");
      const after = await api.executions.list.query({ project: "default", limit: 50 });
      const ids = new Set(before.map((e) => e.id));
      expect(after.filter((e) => ids.has(e.id)).map((e) => [e.id, e.status])).toEqual(
        before.map((e) => [e.id, e.status]),
      );
      const resumed = after.find((e) => e.workflow === "wf");
      expect(resumed?.status).toBe("SUCCEEDED");
      expect((await api.executions.get.query({ id: resumed?.id ?? "" })).execution.result).toBe(
        "Howdy, world!",
      );
      // The task the stop ended runs again, in a new container.
      await waitFor(
        "the interrupted task to run again",
        async () => {
          const attempts = (await api.executions.get.query({ id })).nodes[0]?.attempts ?? [];
          return attempts.length === 2 && attempts[1]?.status === "RUNNING" ? true : undefined;
        },
        90_000,
      );
      await api.executions.abort.mutate({ id });
      expect((await finished(id)).execution.status).toBe("ABORTED");
    },
    10 * 60_000,
  );
});
