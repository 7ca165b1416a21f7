/**
 * Fork with the IDE's edits, and carry the fix home. A user's git repository holds a four-node chain whose n2 is
 * interactive with runTaskFirst and broken; run from there, n2's first run fails and its IDE opens. In Chromium the
 * fix is made in the IDE and saved; the execution is aborted. The console's Fork with edits then runs a new version
 * (the registered sources plus the edit) reusing n0 and n1 and running n2 and n3 with the fix; the version page
 * shows the lineage. `drydock changes --commit` puts the same edit on a new branch of the user's repository
 * without touching the current branch or uncommitted work, and `--apply` refuses a file changed since registration.
 * One file, one stack: the carrying home needs the IDE edit the fork made.
 */
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import { promisify } from "node:util";

import type { ExecutionDetail } from "@drydock/contracts";
import type { Browser, BrowserContext } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { drydock, launchChromium, ROOT, startStack, tearDown, waitFor } from "../harness.js";
import type { Stack } from "../harness.js";
import { ideLink, pane } from "../debug-and-resume.js";
import { openFile, replaceAndSave } from "../ide.js";
import { signInPage } from "../sign-in.js";
import { sampleAgents } from "./agents.js";
import {
  childOf,
  dagReusedMarks,
  detailOf,
  ended,
  listedIds,
  nodeOf,
  outputBytes,
  startedId,
} from "./executions.js";
import { GIT_IDENTITY, userProject } from "./user-project.js";
import type { UserProject } from "./user-project.js";

const WORKFLOW = "reuse_fork_chain";
/** The task's file in the user's repository: in a subdirectory, so the bundle root is not the repository's. */
const SOURCE = "flows/fork-chain.ts";
const BROKEN = "factor: number = 0";
const FIXED = "factor: number = 7";

const started: { stack?: Stack; browser?: Browser; executionId?: string } = {};
let stack: Stack;
let context: BrowserContext;
let project: UserProject;
/** The commit the project was registered at. */
let head: string;
/** The execution whose n2 is fixed in the IDE, then aborted: the fork's parent. */
let parent: ExecutionDetail;
/** The IDE's edit as `drydock changes` prints it. */
let patch: string;

beforeAll(async () => {
  project = await userProject({ [SOURCE]: "reuse/fork-chain.ts" }, { git: true });
  head = (await project.git("rev-parse", "HEAD")).trim();
  stack = started.stack = await startStack();
  const browser = (started.browser = await launchChromium());
  context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const signIn = await context.newPage();
  await signInPage(signIn, stack);
  await signIn.close();
});

afterAll(async () => {
  await tearDown(started);
  await project?.remove();
});

const executionPage = async (id: string, node?: string) => {
  const page = await context.newPage();
  await page.goto(`${stack.url}/executions/${id}${node ? `?node=${node}` : ""}`);
  return page;
};

/** A unified diff's hunks, without file headers and the hunk headers' section names (git adds those). */
function hunks(diff: string): string {
  const out: string[] = [];
  const lines = diff.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const header = /^@@ -\d+(?:,(\d+))? \+\d+(?:,(\d+))? @@/.exec(lines[i] ?? "");
    if (!header) continue;
    out.push(header[0]);
    let before = Number(header[1] ?? 1);
    let after = Number(header[2] ?? 1);
    while ((before > 0 || after > 0) && i + 1 < lines.length) {
      const line = lines[++i] ?? "";
      out.push(line);
      if (line.startsWith("-")) before--;
      else if (line.startsWith("+")) after--;
      else if (!line.startsWith("\\")) {
        before--;
        after--;
      }
    }
  }
  return out.join("\n");
}

/** Read-only git in the monorepo the tests run from. */
const gitOfRoot = async (...args: string[]) =>
  (await promisify(execFile)("git", ["-C", ROOT, ...args])).stdout;

describe("fork with the IDE's edits", () => {
  it("opens n2's IDE on its first run's failure; the fix is made there in Chromium and saved, and kept once the execution is aborted", async () => {
    const run = await project.drydock(["run", "--remote", SOURCE, WORKFLOW], stack.env);
    expect(run.code, run.stderr).toBe(0);
    const id = (started.executionId = startedId(run));

    const page = await executionPage(id, "n2");
    await pane(page).waitFor();
    await ideLink(page).waitFor({ timeout: 120_000 });
    await pane(page).getByText("fork_scale: the factor is 0").first().waitFor();
    const [ide] = await Promise.all([context.waitForEvent("page"), ideLink(page).click()]);
    await ide.waitForSelector(".monaco-workbench", { timeout: 90_000 });
    await ide
      .locator(".explorer-folders-view")
      .getByText("fork-chain.ts", { exact: true })
      .waitFor({ timeout: 30_000 });
    await openFile(ide, "fork-chain.ts");
    await replaceAndSave(ide, BROKEN, FIXED);

    // The agent saves the IDE's edits every few seconds: the server has the fix before the session ends.
    await waitFor(
      "the IDE's edit to reach the server",
      async () => {
        const changes = await stack.api.sessions.changes.query({ executionId: id, nodeId: "n2" });
        return changes.patch.includes(FIXED) ? true : undefined;
      },
      30_000,
    );
    await ide.close();
    await page.close();

    const abort = await drydock(["abort", id], stack.env);
    expect(abort.code, abort.stderr).toBe(0);
    parent = await ended(stack, id);
    expect(parent.execution.status).toBe("ABORTED");
    expect(["n0", "n1"].map((n) => nodeOf(parent, n).status)).toEqual(["SUCCEEDED", "SUCCEEDED"]);
    expect(nodeOf(parent, "n2").attempts.at(-1)?.session?.state).toBe("ENDED");

    const changes = await drydock(["changes", id, "n2"], stack.env);
    expect(changes.code, changes.stderr).toBe(0);
    patch = changes.stdout;
    expect(patch).toContain(`-    const ${BROKEN}; // FIX ME\n+    const ${FIXED}; // FIX ME\n`);
  });

  it("Fork with edits in the console runs a new version: n0 and n1 reused, n2 and n3 run with the fix, and the execution SUCCEEDS", async () => {
    const id = parent.execution.id;
    const page = await executionPage(id, "n2");
    await pane(page).waitFor();
    const agents = sampleAgents();
    await pane(page).getByRole("button", { name: "Fork with edits" }).click();
    await page.getByRole("dialog").getByRole("button", { name: "Fork and run" }).click();
    const childId = await childOf(stack, id);
    await ended(stack, childId, 120_000);
    const seen = [...(await agents.stop())];

    const child = await detailOf(stack, childId);
    expect(child.execution).toMatchObject({
      status: "SUCCEEDED",
      workflow: WORKFLOW,
      inputs: parent.execution.inputs,
      parent: { executionId: id, kind: "fork", nodeId: "n2" },
    });
    expect(child.execution.version).not.toBe(parent.execution.version);
    for (const nodeId of ["n0", "n1"]) {
      const node = nodeOf(child, nodeId);
      expect(node.status).toBe("SUCCEEDED");
      expect(node.reused).toMatchObject({ from: "parent", executionId: id, nodeId });
      expect(node.attempts).toEqual([]);
      expect(outputBytes(node)).toBe(outputBytes(nodeOf(parent, nodeId)));
    }
    for (const nodeId of ["n2", "n3"]) {
      const node = nodeOf(child, nodeId);
      expect(node.reused).toBeUndefined();
      expect(node.attempts.map((a) => a.status)).toEqual(["SUCCEEDED"]);
    }
    // n2 ran the fixed code: its first run succeeded, so no IDE opened.
    expect(nodeOf(child, "n2").outputs).toMatchObject({ value: 42, trail: ["n0", "n1", "n2 x7"] });
    expect(nodeOf(child, "n2").attempts[0]?.session).toBeUndefined();
    expect(child.execution.result).toBe("n0 > n1 > n2 x7 = 42");
    const agentsOfUpstream = seen.filter((a) => /\.n[01]\./.test(a) && a.startsWith(childId));
    expect(agentsOfUpstream).toEqual([]);
    expect(seen).toEqual(expect.arrayContaining([`${childId}.n2.a1`, `${childId}.n3.a1`]));

    // The DAG marks the reused nodes.
    expect(await dagReusedMarks(page, stack, childId, ["n0", "n1", "n2", "n3"])).toEqual([
      "parent",
      "parent",
      null,
      null,
    ]);

    // The new version's lineage, in the API and on the version page.
    const version = await stack.api.workflows.get.query({
      project: "default",
      name: WORKFLOW,
      version: child.execution.version,
    });
    expect(version.forkedFrom).toMatchObject({
      version: parent.execution.version,
      executionId: id,
      nodeId: "n2",
      changedTasks: ["fork_scale"],
    });
    expect(version.forkedFrom?.patch).toContain(FIXED);
    // `executions get -o json` carries the same lineage beside the parent and each node's reuse.
    expect(child.lineage).toEqual(version.forkedFrom);
    await page.goto(`${stack.url}/workflows/${WORKFLOW}?version=${child.execution.version}`);
    const lineage = page.getByRole("region", { name: "Lineage" });
    await lineage.waitFor({ timeout: 30_000 });
    expect(await lineage.innerText()).toContain(`Forked from version ${parent.execution.version}`);
    await page.close();
    console.log(
      `fork: ${childId} from ${id} n2; n0,n1 reused (agents seen for them: ${agentsOfUpstream.length}); ` +
        `attempts n0..n3: ${child.nodes.map((n) => n.attempts.length).join(",")}; result ${JSON.stringify(child.execution.result)}`,
    );
  });

  it("refuses to fork a node with no edits, an unknown node or an unknown execution, creating nothing", async () => {
    const id = parent.execution.id;
    const executionsBefore = await listedIds(stack);
    const versions = async () =>
      (await stack.api.workflows.list.query({ project: "default" })).find(
        (w) => w.name === WORKFLOW,
      )?.versions;
    const versionsBefore = await versions();

    const noEdits = await drydock(["fork", id, "n1"], stack.env);
    expect(noEdits.code).not.toBe(0);
    expect(noEdits.stderr).toContain("n1");
    const unknownNode = await drydock(["fork", id, "n9"], stack.env);
    expect(unknownNode.code).not.toBe(0);
    expect(unknownNode.stderr).toContain("n9");
    const unknown = await drydock(["fork", "xnosuchexecution", "n2"], stack.env);
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr).toContain("xnosuchexecution");

    for (const r of [noEdits, unknownNode, unknown]) expect(r.stderr).not.toMatch(/\n\s+at /);
    console.log(
      `fork refusals:\n${[noEdits, unknownNode, unknown].map((r) => `  ${r.stderr.trim()}`).join("\n")}`,
    );
    expect(await listedIds(stack)).toEqual(executionsBefore);
    expect(await versions()).toBe(versionsBefore);
  });
});

describe("carrying the fix home to the user's repository", () => {
  const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");

  it("drydock register recorded where the sources came from: the directory, each file's hash, and the clean commit", async () => {
    const version = await stack.api.workflows.get.query({
      project: "default",
      name: WORKFLOW,
      version: parent.execution.version,
    });
    expect(version.origin).toMatchObject({
      root: project.path("flows"),
      files: { "fork-chain.ts": sha256(await readFile(project.path(SOURCE), "utf8")) },
      git: { toplevel: project.dir, commit: head, branch: "main", dirty: false },
    });
    // The console shows the commit beside the version.
    const page = await context.newPage();
    await page.goto(`${stack.url}/workflows/${WORKFLOW}?version=${parent.execution.version}`);
    await page
      .getByRole("region", { name: "Source" })
      .locator(`[data-commit="${head}"]`)
      .waitFor({ timeout: 30_000 });
    await page.close();
  });

  it("changes --commit --branch fix/n3 commits the edit on a new branch, leaving the current branch and the uncommitted work alone", async () => {
    // Uncommitted work: a tracked file changed and an untracked one.
    await writeFile(project.path("README.md"), "A user's workflows, being edited.\n");
    await writeFile(project.path("notes.txt"), "not committed\n");
    const status = await project.git("status", "--porcelain");
    const source = await readFile(project.path(SOURCE));

    const id = parent.execution.id;
    const commit = await project.drydock(["changes", id, "n2", "--commit", "--branch", "fix/n3"], {
      ...stack.env,
      ...GIT_IDENTITY,
    });
    expect(commit.code, commit.stderr).toBe(0);

    expect((await project.git("rev-parse", "HEAD")).trim()).toBe(head);
    expect((await project.git("symbolic-ref", "--short", "HEAD")).trim()).toBe("main");
    expect(await project.git("status", "--porcelain")).toBe(status);
    expect(await readFile(project.path(SOURCE))).toEqual(source);
    expect(await readFile(project.path("README.md"), "utf8")).toBe(
      "A user's workflows, being edited.\n",
    );

    // One commit on top of the registered one, holding exactly the edit.
    expect((await project.git("rev-parse", "fix/n3^")).trim()).toBe(head);
    expect((await project.git("diff", "--name-only", "HEAD", "fix/n3")).trim()).toBe(SOURCE);
    const diff = await project.git("diff", "HEAD", "fix/n3");
    expect(hunks(diff)).toBe(hunks(patch));
    expect(hunks(patch)).toContain(`+    const ${FIXED}; // FIX ME`);
    const message = await project.git("log", "-1", "--format=%B", "fix/n3");
    for (const name of [WORKFLOW, id, "n2"]) expect(message).toContain(name);
    // Nothing landed in the repository the tests run from.
    expect((await gitOfRoot("branch", "--list", "fix/n3")).trim()).toBe("");
    console.log(
      `carry home: fix/n3 = ${(await project.git("rev-parse", "fix/n3")).trim()} on ${head}, diff equals the patch`,
    );
  });

  it("changes --apply refuses a file changed since registration and changes nothing; on the registered file it applies the edit", async () => {
    const id = parent.execution.id;
    const registered = await readFile(project.path(SOURCE), "utf8");
    const changedHere = `${registered}// changed here after registering\n`;
    await writeFile(project.path(SOURCE), changedHere);

    const refused = await project.drydock(["changes", id, "n2", "--apply"], stack.env);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain("fork-chain.ts");
    expect(refused.stderr).not.toMatch(/\n\s+at /);
    console.log(`changes --apply refusal: ${refused.stderr.trim()}`);
    expect(await readFile(project.path(SOURCE), "utf8")).toBe(changedHere);

    await writeFile(project.path(SOURCE), registered);
    const applied = await project.drydock(["changes", id, "n2", "--apply"], stack.env);
    expect(applied.code, applied.stderr).toBe(0);
    expect(await readFile(project.path(SOURCE), "utf8")).toBe(
      await project.git("show", `fix/n3:${SOURCE}`),
    );
  });
});
