import { execFile } from "node:child_process";
import { mkdir, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, "../../../..");

/**
 * Builds `image`, a stand-in agent for the container executors' tests: drydock/base (built once per machine,
 * offline; about 90 s the first time) whose entrypoint is the shell `script`, in a context under `work`.
 */
export async function buildStandInAgent(
  image: string,
  work: string,
  script: string,
): Promise<void> {
  const { stdout } = await run("bash", [join(ROOT, "infra/images/base/build.sh")], {
    maxBuffer: 16 * 1024 * 1024,
  });
  const base = stdout.match(/base image (\S+)/)?.[1] ?? "";
  const context = join(work, "image");
  await mkdir(context, { recursive: true });
  await writeFile(join(context, "agent.sh"), script, { mode: 0o755 });
  await writeFile(
    join(context, "Dockerfile"),
    `FROM ${base}\nCOPY agent.sh /agent.sh\nENTRYPOINT ["/agent.sh"]\n`,
  );
  await run("docker", ["build", "--network", "none", "-q", "-t", image, context]);
}
