import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { chmod, mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

import type { ExecutionDetail, SourceOrigin, WorkflowVersion } from "@drydock/contracts";
import { createTwoFilesPatch } from "diff";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";

import { applyEditHome, commitEditHome, defaultBranch } from "./carry-home.js";
import { CliError } from "./errors.js";
import { sourceOrigin } from "./origin.js";
import { TestControlPlane } from "./test/control-plane.js";
import { runCli } from "./test/run-cli.js";

const run = promisify(execFile);

const WORKFLOW = `import { task, workflow } from "@drydock/sdk";

export const parse = task({ name: "parse" }, async () => {
  return JSON.parse("{");
});

export const wf = workflow({ name: "wf" }, () => parse({}));
`;
const FIXED = WORKFLOW.replace('JSON.parse("{")', 'JSON.parse("{}")');
const HELPER = "export const helper = () => 42;\n";
const SUBJECT = {
  workflow: "wf",
  version: "v1",
  executionId: "x1",
  nodeId: "n3",
  task: "parse",
};

const sha256 = (text: string | Buffer) => createHash("sha256").update(text).digest("hex");

/** A unified diff as the agent makes it: `a/`/`b/` paths, `/dev/null` for a new or deleted file. */
const diff = (path: string, before: string | undefined, after: string | undefined) =>
  createTwoFilesPatch(
    before === undefined ? "/dev/null" : `a/${path}`,
    after === undefined ? "/dev/null" : `b/${path}`,
    before ?? "",
    after ?? "",
    undefined,
    undefined,
    { context: 3 },
  ).replace(/^={67}\n/, "");

const EDIT = diff("workflow.ts", WORKFLOW, FIXED) + diff("helper.ts", undefined, HELPER);

let scratch: string;
let repo: string;
let root: string;
let origin: SourceOrigin;
const savedGitConfig = process.env.GIT_CONFIG_GLOBAL;

const git = async (...args: string[]) => (await run("git", args, { cwd: repo })).stdout;

/** Where git keeps what a user would lose if it changed: HEAD, branch, index, working tree. */
const userState = async () => ({
  head: await git("rev-parse", "HEAD"),
  branch: await git("symbolic-ref", "HEAD"),
  status: await git("status", "--porcelain"),
  index: await git("ls-files", "--stage"),
  staged: await git("diff", "--cached"),
  unstaged: await git("diff"),
  workflow: await readFile(join(root, "workflow.ts"), "utf8"),
});

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), "drydock-carry-home-"));
  // No identity but the repository's own: the fallback test removes that.
  const globalConfig = join(scratch, "gitconfig");
  await writeFile(globalConfig, "");
  process.env.GIT_CONFIG_GLOBAL = globalConfig;
});
afterAll(async () => {
  if (savedGitConfig === undefined) delete process.env.GIT_CONFIG_GLOBAL;
  else process.env.GIT_CONFIG_GLOBAL = savedGitConfig;
  await rm(scratch, { recursive: true, force: true });
});

beforeEach(async () => {
  repo = await mkdtemp(join(scratch, "repo-"));
  root = join(repo, "pipelines");
  await mkdir(root);
  await git("init", "-q", "-b", "main");
  await git("config", "user.name", "Ada");
  await git("config", "user.email", "ada@example.test");
  await writeFile(join(root, "workflow.ts"), WORKFLOW);
  await writeFile(join(repo, "README.md"), "# pipelines\n");
  await git("add", ".");
  await git("commit", "-q", "-m", "first");
  // What `drydock register` records for these sources.
  origin = await sourceOrigin(root, ["workflow.ts"]);
  expect(origin).toMatchObject({
    host: hostname(),
    files: { "workflow.ts": sha256(WORKFLOW) },
    git: { toplevel: repo, branch: "main", dirty: false },
  });
});
afterEach(async () => {
  await rm(repo, { recursive: true, force: true });
});

/** The CliError `fn` refused with. */
async function refusal(fn: () => Promise<unknown>): Promise<CliError> {
  const error = await fn().then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(CliError);
  return error as CliError;
}

describe("changes --commit", () => {
  it("makes a branch holding the edit on the registered commit, and touches nothing the user has", async () => {
    // Uncommitted work of every kind: a staged change, an unstaged one, an untracked file.
    await writeFile(join(repo, "README.md"), "# pipelines\n\nstaged\n");
    await git("add", "README.md");
    await writeFile(join(root, "workflow.ts"), `${WORKFLOW}// unstaged\n`);
    await writeFile(join(repo, "notes.txt"), "untracked\n");
    const before = await userState();

    const made = await commitEditHome(EDIT, origin, SUBJECT, "fix/n3");

    expect(made).toEqual({
      branch: "fix/n3",
      commit: expect.stringMatching(/^[0-9a-f]{40}$/) as string,
      files: ["workflow.ts", "helper.ts"],
    });
    expect(await userState()).toEqual(before);
    expect((await git("rev-parse", "fix/n3")).trim()).toBe(made.commit);
    expect((await git("rev-parse", "fix/n3^")).trim()).toBe(origin.git?.commit);
    // The branch's diff is the edit, under the sources' directory in the repository.
    expect(await git("diff", "--name-status", "HEAD", "fix/n3")).toBe(
      "A\tpipelines/helper.ts\nM\tpipelines/workflow.ts\n",
    );
    expect(await git("show", "fix/n3:pipelines/workflow.ts")).toBe(FIXED);
    expect(await git("show", "fix/n3:pipelines/helper.ts")).toBe(HELPER);
    const message = await git("log", "-1", "--format=%an <%ae>%n%B", "fix/n3");
    expect(message).toBe(
      "Ada <ada@example.test>\nFix parse from Drydock\n\nThe edit made in the IDE of node n3 (task parse) of execution x1 of workflow wf, version v1.\n\n",
    );
  });

  it("refuses a branch that exists, or a name git does not take, creating nothing", async () => {
    await git("branch", "fix/n3");
    const before = await git("for-each-ref");
    const exists = await refusal(() => commitEditHome(EDIT, origin, SUBJECT, "fix/n3"));
    expect(exists.message).toBe(
      `branch fix/n3 already exists in ${repo}: name another with --branch`,
    );
    expect(exists.exitCode).toBe(1);
    for (const bad of ["fix..n3", "@{-1}", "-n3", "fix n3"]) {
      const invalid = await refusal(() => commitEditHome(EDIT, origin, SUBJECT, bad));
      expect(invalid.message, bad).toBe(`"${bad}" is not a valid branch name`);
      expect(invalid.exitCode).toBe(2);
    }
    expect(await git("for-each-ref")).toBe(before);
  });

  it("names the branch after the execution and node by default, and falls back to Drydock's identity", async () => {
    await git("config", "--unset", "user.name");
    await git("config", "--unset", "user.email");
    const made = await commitEditHome(EDIT, origin, { ...SUBJECT, nodeId: "n2[1]" });
    expect(made.branch).toBe("drydock/x1-n2-1");
    expect(await git("log", "-1", "--format=%an <%ae> / %cn <%ce>", made.branch)).toBe(
      "Drydock <drydock@localhost> / Drydock <drydock@localhost>\n",
    );
    expect(defaultBranch("x1", "n0")).toBe("drydock/x1-n0");
    expect(defaultBranch("x1", "n2[10]")).toBe("drydock/x1-n2-10");
  });

  it("refuses sources registered with uncommitted changes, and origins without git", async () => {
    await writeFile(join(root, "workflow.ts"), `${WORKFLOW}// was dirty\n`);
    const dirty = await sourceOrigin(root, ["workflow.ts"]);
    expect(dirty.git).toMatchObject({ dirty: true, dirtyFiles: ["workflow.ts"] });
    const mismatch = await refusal(() => commitEditHome(EDIT, dirty, SUBJECT, "fix/n3"));
    expect(mismatch.message).toBe(
      `workflow.ts at commit ${origin.git?.commit.slice(0, 12)} is not what was registered (it had uncommitted changes then): use --apply`,
    );
    const { git: _none, ...plain } = origin;
    const noGit = await refusal(() => commitEditHome(EDIT, plain, SUBJECT, "fix/n3"));
    expect(noGit.message).toBe(
      "version v1 of wf was not registered from a git working tree; use --apply",
    );
    expect(await git("branch", "--list", "fix/n3")).toBe("");
  });

  it("carries a deletion, with the sources at the repository's top", async () => {
    await writeFile(join(repo, "old.ts"), "export {};\n");
    await git("add", "old.ts");
    await git("commit", "-q", "-m", "old");
    const top = {
      host: hostname(),
      root: repo,
      files: { "old.ts": sha256("export {};\n") },
      git: { ...origin.git!, commit: (await git("rev-parse", "HEAD")).trim() },
    };
    const made = await commitEditHome(diff("old.ts", "export {};\n", undefined), top, SUBJECT);
    expect(await git("diff", "--name-status", "HEAD", made.branch)).toBe("D\told.ts\n");
    expect(await readFile(join(repo, "old.ts"), "utf8")).toBe("export {};\n");
  });
});

describe("changes --apply", () => {
  it("writes the edit into the registered files, keeping their mode", async () => {
    await chmod(join(root, "workflow.ts"), 0o640);
    const written = await applyEditHome(EDIT, origin);
    expect(written.map((c) => [c.path, c.absolute, c.created])).toEqual([
      ["workflow.ts", join(root, "workflow.ts"), false],
      ["helper.ts", join(root, "helper.ts"), true],
    ]);
    expect(await readFile(join(root, "workflow.ts"), "utf8")).toBe(FIXED);
    expect(await readFile(join(root, "helper.ts"), "utf8")).toBe(HELPER);
    expect((await stat(join(root, "workflow.ts"))).mode & 0o777).toBe(0o640);
  });

  it("refuses a file changed since it was registered, and changes nothing", async () => {
    const changed = `${WORKFLOW}// changed since\n`;
    await writeFile(join(root, "workflow.ts"), changed);
    const error = await refusal(() => applyEditHome(EDIT, origin));
    expect(error.message).toBe(
      `workflow.ts changed since it was registered (${join(root, "workflow.ts")}): nothing was changed; print the edit with \`drydock changes\` and merge it by hand`,
    );
    expect(error.exitCode).toBe(1);
    expect(await readFile(join(root, "workflow.ts"))).toEqual(Buffer.from(changed));
    await expect(stat(join(root, "helper.ts"))).rejects.toThrow(/ENOENT/);
  });

  it("refuses a new file that exists, a hunk that does not apply, a path outside the sources, another machine", async () => {
    await writeFile(join(root, "helper.ts"), "mine\n");
    expect((await refusal(() => applyEditHome(EDIT, origin))).message).toBe(
      `helper.ts already exists (${join(root, "helper.ts")}), and the edit creates it: nothing was changed`,
    );
    expect(await readFile(join(root, "workflow.ts"), "utf8")).toBe(WORKFLOW);

    const unrecorded = { ...origin, files: {} };
    const conflict = diff("workflow.ts", WORKFLOW.replace("parse", "other"), FIXED);
    expect((await refusal(() => applyEditHome(conflict, unrecorded))).message).toBe(
      `the edit does not apply to workflow.ts (${join(root, "workflow.ts")}): nothing was changed`,
    );

    const escape = diff("../README.md", "# pipelines\n", "# mine\n");
    expect((await refusal(() => applyEditHome(escape, origin))).message).toBe(
      'the edit names the path "a/../README.md", which is outside the sources',
    );

    const elsewhere = { ...origin, host: "build-box-7" };
    expect((await refusal(() => applyEditHome(EDIT, elsewhere))).message).toBe(
      `this version was registered on build-box-7 (from ${root}), not on this machine (${hostname()}): run this there, or apply \`drydock changes\`'s patch by hand`,
    );
    expect(await readFile(join(root, "workflow.ts"), "utf8")).toBe(WORKFLOW);
    expect(await readFile(join(repo, "README.md"), "utf8")).toBe("# pipelines\n");
  });
});

describe("drydock changes --apply and --commit", { timeout: 120_000 }, () => {
  const plane = new TestControlPlane();
  const token = plane.state.addUser("ada", "Ada");
  let home: string;
  beforeAll(async () => {
    home = await mkdtemp(join(scratch, "home-"));
    await plane.listen();
  });
  afterAll(() => plane.close());

  const AT = "2026-12-06T10:00:00.000Z";
  const detail: ExecutionDetail = {
    execution: {
      id: "x1",
      project: "default",
      workflow: "wf",
      version: "v1",
      status: "FAILED",
      inputs: {},
      createdAt: AT,
      overwriteCache: false,
      pauseBefore: [],
    },
    nodes: [{ executionId: "x1", nodeId: "n3", task: "parse", status: "FAILED", attempts: [] }],
  };
  /** The server's answers about node n3 of x1: its session's patch and its version. */
  const serve = (patch: string, version: Partial<WorkflowVersion>) => {
    plane.state.edit = {
      changes: { sessionId: "s1", patch, savedAt: AT },
      detail,
      version: {
        project: "default",
        name: "wf",
        version: "v1",
        bundle: "a".repeat(64),
        entry: "workflow.ts",
        spec: {
          name: "wf",
          inputs: {},
          required: [],
          nodes: [],
          output: { kind: "literal", value: null },
        },
        tasks: [],
        createdAt: AT,
        ...version,
      },
    };
  };
  const drydock = (...args: string[]) =>
    runCli(["changes", "x1", "n3", ...args, "--endpoint", plane.url, "--token", token], { home });

  it("--commit prints the new branch and how to look at it; --apply one line per file", async () => {
    serve(EDIT, { origin });
    const committed = await drydock("--commit", "--branch", "fix/n3");
    expect(committed.code, committed.stderr).toBe(0);
    const commit = (await git("rev-parse", "fix/n3")).trim();
    expect(committed.stdout).toBe(
      `created branch fix/n3 in ${repo}: commit ${commit} with the edit of workflow.ts, helper.ts\n` +
        "  look at it: git show fix/n3   (your current branch, index and working tree are as they were)\n",
    );
    expect(await git("log", "-1", "--format=%B", "fix/n3")).toContain(
      "node n3 (task parse) of execution x1 of workflow wf, version v1.",
    );
    expect(await readFile(join(root, "workflow.ts"), "utf8")).toBe(WORKFLOW);

    const applied = await drydock("--apply");
    expect(applied.code, applied.stderr).toBe(0);
    expect(applied.stdout).toBe(
      `updated ${join(root, "workflow.ts")}\ncreated ${join(root, "helper.ts")}\n`,
    );
    expect(await readFile(join(root, "workflow.ts"), "utf8")).toBe(FIXED);
  });

  it("refuses a session without edits, and a forked version, naming what to do instead", async () => {
    serve("", { origin });
    const none = await drydock("--apply");
    expect(none).toMatchObject({ code: 1, stdout: "" });
    expect(none.stderr).toBe(
      "error: the IDE session s1 of task n3 of execution x1 has no edits to carry home\n",
    );

    serve(EDIT, {
      forkedFrom: {
        version: "v0",
        executionId: "x0",
        nodeId: "n2",
        sessionId: "s0",
        patch: EDIT,
        changedTasks: ["parse"],
      },
    });
    const forked = await drydock("--commit");
    expect(forked).toMatchObject({ code: 1, stdout: "" });
    expect(forked.stderr).toBe(
      "error: version v1 of wf was made by `drydock fork` (from version v0 with the edits of node n2 of execution x0), not registered from files: carry that edit home first (drydock changes x0 n2 --apply), then apply this one by hand (drydock changes x1 n3)\n",
    );
    expect(await git("branch", "--list")).toBe("* main\n");
    expect(await readFile(join(root, "workflow.ts"), "utf8")).toBe(WORKFLOW);
  });
});
