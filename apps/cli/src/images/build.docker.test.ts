/**
 * Task images built for real on this machine's Docker engine: drydock/base (infra/images/base/build.sh) as the
 * base, is-number installed from the npm registry npm uses here, and a container that imports it.
 */
import { execFile, spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

import type { ImageSpecData, TaskSpec } from "@drydock/contracts";
import Docker from "dockerode";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { readNpmRegistry } from "../npm-registry.js";
import { buildTaskImages } from "./build.js";
import { TaskImageError } from "./errors.js";

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), "../../../..");
const BASE = "drydock/base:bookworm-node20";
const docker = new Docker();
const name = `sdk-test-${randomBytes(4).toString("hex")}`;
/** Quotes, a backslash and things an ENV line would substitute: the container must see them as written. */
const ENV_VALUE = 'say "hi" to $HOME \\ ${USER}';
const containers: Docker.Container[] = [];

function recorder() {
  const updates: string[] = [];
  const steps: string[] = [];
  return {
    updates,
    steps,
    progress: { update: (m: string) => updates.push(m), step: (m: string) => steps.push(m) },
  };
}

const imageSpec = (): ImageSpecData => ({
  name,
  baseImage: BASE,
  packages: ["is-number@7.0.0"],
  env: { SDK_TEST_VALUE: ENV_VALUE },
});
const taskWith = (taskName: string, image?: ImageSpecData): TaskSpec => ({
  name: taskName,
  inputs: {},
  required: [],
  output: {},
  retries: 0,
  ...(image ? { image } : {}),
});

async function timed<T>(fn: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const started = performance.now();
  const value = await fn();
  return { value, ms: performance.now() - started };
}

let npmRegistry: string | undefined;

beforeAll(async () => {
  try {
    await promisify(execFile)("bash", ["infra/images/base/build.sh"], {
      cwd: repoRoot,
      timeout: 300_000,
      maxBuffer: 16 * 1024 * 1024,
    });
  } catch (error) {
    const { stdout, stderr } = error as { stdout?: string; stderr?: string };
    throw new Error(`infra/images/base/build.sh failed:\n${stdout ?? ""}${stderr ?? ""}`, {
      cause: error,
    });
  }
  npmRegistry = await readNpmRegistry(repoRoot);
}, 330_000);

afterAll(async () => {
  for (const container of containers)
    await container.remove({ force: true }).catch(() => undefined);
  const images = await docker.listImages({
    filters: JSON.stringify({ reference: [`drydock-task/${name}*`] }),
  });
  const pushed = await docker.listImages({
    filters: JSON.stringify({ reference: [`127.0.0.1:*/drydock-task/${name}*`] }),
  });
  for (const image of [...images, ...pushed]) {
    for (const tag of image.RepoTags ?? [])
      await docker
        .getImage(tag)
        .remove({ force: true })
        .catch(() => undefined);
  }
});

describe("buildTaskImages on Docker", () => {
  let ref = "";
  let firstMs = 0;

  it("builds one image per distinct ImageSpec, tags it by its content and records it on every task using it", async () => {
    expect(npmRegistry).toMatch(/^https?:\/\//);
    const tasks = [
      taskWith("first", imageSpec()),
      taskWith("second", imageSpec()),
      taskWith("plain"),
    ];
    const { steps, updates, progress } = recorder();
    const { value: refs, ms } = await timed(() =>
      buildTaskImages(tasks, { npmRegistry, progress }),
    );
    firstMs = ms;

    ref = refs.get(name) ?? "";
    expect(ref).toMatch(new RegExp(`^drydock-task/${name}:[0-9a-f]{16}$`));
    expect([...refs.keys()]).toEqual([name]);
    expect(tasks.map((t) => t.image?.ref)).toEqual([ref, ref, undefined]);
    expect(steps).toEqual([
      expect.stringMatching(
        new RegExp(`^warning: the base image ${BASE} is not built FROM drydock/agent`),
      ),
      expect.stringMatching(new RegExp(`^built image ${ref} in \\d+\\.\\d s$`)),
    ]);
    expect(
      updates.some(
        (u) =>
          u.startsWith(`building image ${ref}: `) &&
          u.includes("npm install --prefix /opt/drydock"),
      ),
    ).toBe(true);

    const info = await docker.getImage(ref).inspect();
    expect(info.Config.Labels?.["drydock.image-spec"]).toBe(ref.split(":")[1]);
    expect(info.Config.Env).toContain(`SDK_TEST_VALUE=${ENV_VALUE}`);
    // The registry is a build argument: it is not left in the image.
    expect(info.Config.Env.some((e) => e.startsWith("NPM_CONFIG_REGISTRY="))).toBe(false);
  }, 240_000);

  it("reuses the image while the spec and the base are the same", async () => {
    const task = taskWith("again", {
      ...imageSpec(),
      packages: ["is-number@7.0.0", "is-number@7.0.0"],
    });
    const { steps, progress } = recorder();
    const { value: refs, ms } = await timed(() =>
      buildTaskImages([task], { npmRegistry, progress }),
    );

    expect(refs.get(name)).toBe(ref);
    expect(task.image?.ref).toBe(ref);
    expect(steps.filter((s) => !s.startsWith("warning:"))).toEqual([
      `image ${ref} is up to date (reused)`,
    ]);
    expect(ms).toBeLessThan(firstMs / 4);
    console.info(
      `task image ${ref}: built in ${(firstMs / 1000).toFixed(1)} s, reused in ${(ms / 1000).toFixed(2)} s`,
    );
  }, 60_000);

  it("gives the task's code the image's packages by Node's usual lookup, and its env as written", async () => {
    const code =
      "import isNumber from 'is-number'; console.log('result ' + JSON.stringify({ five: isNumber(5), text: isNumber('x'), env: process.env.SDK_TEST_VALUE }));";
    // A bundle is extracted below /opt/drydock; its bare imports find /opt/drydock/node_modules on the way up.
    const container = await docker.createContainer({
      Image: ref,
      Entrypoint: ["node", "--input-type=module", "-e", code],
      WorkingDir: "/opt/drydock/cache/bundle",
      Tty: true,
    });
    containers.push(container);
    await container.start();
    const { StatusCode } = (await container.wait()) as { StatusCode: number };
    // Prefixed: docker-modem would parse a log that is all JSON into an object.
    const output = (await container.logs({ stdout: true, stderr: true })).toString("utf8");
    expect({ StatusCode, output }).toMatchObject({ StatusCode: 0 });
    const result = /^result (.*)$/m.exec(output)?.[1]?.trim();
    expect(JSON.parse(result ?? "null")).toEqual({ five: true, text: false, env: ENV_VALUE });
  }, 60_000);

  it("fails a build naming the image and quoting the build's last lines", async () => {
    const broken = {
      name: `${name}-broken`,
      baseImage: BASE,
      packages: ["drydock-sdk-test-no-such-package-7f3c1a@1.0.0"],
      env: {},
    };
    const attempt = buildTaskImages([taskWith("broken", broken)], { npmRegistry });
    await expect(attempt).rejects.toThrow(TaskImageError);
    await expect(attempt).rejects.toMatchObject({
      code: "IMAGE_BUILD_FAILED",
      message: expect.stringMatching(
        new RegExp(
          `^building the image drydock-task/${name}-broken:[0-9a-f]{16} \\(ImageSpec "${name}-broken"\\) failed: [^\\n]+\\nthe build's last lines:\\n[\\s\\S]*404`,
        ),
      ) as string,
    });
    const left = await docker.listImages({
      filters: JSON.stringify({ reference: [`drydock-task/${name}-broken`] }),
    });
    expect(left).toEqual([]);
  }, 120_000);

  it("names a base image that is not there", async () => {
    const task = taskWith("orphan", {
      name,
      baseImage: "drydock/no-such-base:sdk-test",
      packages: [],
      env: {},
    });
    await expect(buildTaskImages([task])).rejects.toMatchObject({
      code: "BASE_IMAGE_MISSING",
      message: `the base image drydock/no-such-base:sdk-test is not there: build or pull it (ImageSpec "${name}" builds on it; it must be built FROM drydock/agent)`,
    });
  });
});

/** A port nothing listens on now. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * Debian's docker-registry on loopback, as a swarm's registry (Docker sends to 127.0.0.0/8 registries without
 * TLS, as it does to those a daemon.json marks insecure): `pnpm test` installs it with the Docker engine.
 */
describe("buildTaskImages with a registry", () => {
  let registry: ChildProcess | undefined;
  let dir = "";
  let address = "";

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "drydock-registry-test-"));
    address = `127.0.0.1:${await freePort()}`;
    await writeFile(
      join(dir, "config.yml"),
      `version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: ${dir}/data\nhttp:\n  addr: ${address}\n`,
    );
    registry = spawn("docker-registry", ["serve", join(dir, "config.yml")], { stdio: "ignore" });
    for (let i = 0; i < 100; i++) {
      if (
        await fetch(`http://${address}/v2/`).then(
          (r) => r.ok,
          () => false,
        )
      )
        return;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(`docker-registry did not answer on ${address}`);
  });

  afterAll(async () => {
    registry?.kill();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("names the image in the registry and pushes it there, where the registry lists its tag", async () => {
    const task = taskWith("pushed", imageSpec());
    const { steps, progress } = recorder();
    const refs = await buildTaskImages([task], { npmRegistry, registry: address, progress });
    const ref = refs.get(name) ?? "";
    expect(ref).toMatch(
      new RegExp(`^${address.replace(/\./g, "\\.")}/drydock-task/${name}:[0-9a-f]{16}$`),
    );
    expect(task.image?.ref).toBe(ref);
    expect(steps.at(-1)).toMatch(
      new RegExp(`^pushed image ${ref.replace(/\./g, "\\.")} in \\d+\\.\\d s$`),
    );
    const tags = (await (
      await fetch(`http://${address}/v2/drydock-task/${name}/tags/list`)
    ).json()) as { tags: string[] };
    expect(tags.tags).toEqual([ref.split(":").at(-1)]);
  }, 240_000);

  it("fails naming the image and the registry when the registry is not there", async () => {
    const gone = `127.0.0.1:${await freePort()}`;
    const attempt = buildTaskImages([taskWith("unpushed", imageSpec())], {
      npmRegistry,
      registry: gone,
    });
    await expect(attempt).rejects.toMatchObject({
      code: "IMAGE_PUSH_FAILED",
      message: expect.stringMatching(
        new RegExp(
          `^pushing the image ${gone.replace(/\./g, "\\.")}/drydock-task/${name}:[0-9a-f]{16} to its registry failed: `,
        ),
      ) as string,
    });
  }, 240_000);
});
