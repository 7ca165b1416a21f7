/** A small workflow project packed into a real bundle, shared by the agent's tests. */
import { mkdir, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";

// The tests pack their bundle with the packer `drydock register` uses, so the agent extracts what users ship.
import { packBundle } from "@drydock/bundle";
import type { AttemptAssignment } from "@drydock/contracts";

/** Tasks carry the SDK's brand written by hand, so the fixture does not depend on the SDK core. */
export const FIXTURE: Record<string, string> = {
  "package.json": JSON.stringify({ name: "agent-fixture", private: true, type: "module" }),
  "lib/math.ts": "export const double = (n: number): number => n * 2;\n",
  "tasks.ts": `
import { double } from "./lib/math.ts";

const ENTITY = Symbol.for("drydock.entity");
type Inputs = Record<string, unknown>;

function task(name: string, fn: (inputs: Inputs) => unknown) {
  const entity = {
    kind: "task",
    spec: { name, inputs: {}, required: [], output: {}, retries: 0 },
    execute: async (inputs: Inputs) => fn(inputs),
    fn,
  };
  return Object.assign((inputs: Inputs) => fn(inputs), { [ENTITY]: entity });
}

export const add = task("add", ({ a, b }) => {
  console.log(\`adding \${a} and \${b}\`);
  process.stderr.write("a line on stderr\\n");
  return { sum: (a as number) + (b as number), doubled: double(a as number) };
});
export const boom = task("boom", () => {
  throw new TypeError("kaboom");
});
export const throwsString = task("throws_string", () => {
  throw "plain string";
});
export const sleepy = task("sleepy", () => {
  console.log("sleeping");
  return new Promise(() => undefined);
});
export const big = task("big", () => ({ text: "x".repeat(70_000) }));
// The file the running code was loaded from: the compiled entry, or the sources under tsx.
export const loadedFrom = task("loaded_from", () => new URL(import.meta.url).pathname.split("/").pop());
const hidden = task("hidden", () => "from workflow");
export const wf = {
  [ENTITY]: {
    kind: "workflow",
    name: "wf",
    build: () => {
      throw new Error("not used by the agent");
    },
    taskEntities: () => new Map([["hidden", hidden[ENTITY]]]),
  },
};
`,
};

export interface FixtureBundle {
  sha256: string;
  tarball: Buffer;
  entry: string;
}

/** Writes the fixture project under `dir` and packs it. */
export async function packFixture(dir: string): Promise<FixtureBundle> {
  for (const [path, text] of Object.entries(FIXTURE)) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), text);
  }
  return packFile(join(dir, "tasks.ts"));
}

/** Packs any workflow file, as `drydock register` does. */
export async function packFile(file: string): Promise<FixtureBundle> {
  const packed = await packBundle(file);
  return { sha256: packed.sha256, tarball: packed.tarball, entry: packed.manifest.entry };
}

/** The 1-based line of `needle` in the fixture's tasks.ts. */
export function fixtureLine(needle: string): number {
  const lines = (FIXTURE["tasks.ts"] ?? "").split("\n");
  return lines.findIndex((line) => line.includes(needle)) + 1;
}

export function assignmentFor(
  bundle: FixtureBundle,
  taskName: string,
  attemptId = "att-1",
): AttemptAssignment {
  return {
    attemptId,
    executionId: "ex-1",
    nodeId: "n0",
    attemptNumber: 1,
    task: { name: taskName, inputs: {}, required: [], output: {}, retries: 0 },
    bundle: {
      sha256: bundle.sha256,
      url: `/blobs/bundles/${bundle.sha256}?sig=test`,
      entry: bundle.entry,
    },
    inputsUrl: `/blobs/inputs/${attemptId}?sig=test`,
    outputsUploadUrl: `/blobs/outputs/${attemptId}?sig=test`,
  };
}
