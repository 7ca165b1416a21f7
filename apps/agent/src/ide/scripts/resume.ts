/**
 * Resume Task's program, written into the workspace as `drydock_resume_task.mjs`: asks for confirmation
 * (or `--yes`), then calls `resume` on the agent's control socket (tRPC over HTTP): code-server stops and the
 * task runs for real with the workspace's sources, edits included, and the inputs it received. For a paused
 * task, `--original` runs the registered code again instead and `--fail` ends the task as failed.
 */
import { readFileSync } from "node:fs";
import { request } from "node:http";
import { dirname } from "node:path";
import { createInterface } from "node:readline/promises";
import { fileURLToPath } from "node:url";

import { scriptEnv } from "./env.js";
import { readScriptSettings } from "./settings.js";

const settings = readScriptSettings(dirname(fileURLToPath(import.meta.url)));
// Another shell of the same user reads the token from its file, which only that user can read.
const controlSocket = scriptEnv.controlSocket ?? settings.controlSocket;
const controlToken = scriptEnv.controlToken ?? readToken(settings.controlTokenFile);

type Choice = "edited" | "original" | "fail";

/** The choice its flags name (at most one); exits saying why on an unknown or a second one. */
function choiceOf(args: string[]): Choice {
  const flags = args.filter((arg) => arg !== "--yes");
  const unknown = flags.filter((arg) => !["--edited", "--original", "--fail"].includes(arg));
  if (unknown.length > 0) {
    console.error(
      `resume: unknown argument ${unknown.join(" ")}; usage: node ${process.argv[1] ?? "drydock_resume_task.mjs"} [--edited | --original | --fail] [--yes]`,
    );
    process.exit(2);
  }
  if (flags.length > 1) {
    console.error(
      `resume: give at most one of --edited, --original, --fail (got ${flags.join(" ")})`,
    );
    process.exit(2);
  }
  return (flags[0]?.slice(2) as Choice | undefined) ?? "edited";
}

const choice = choiceOf(process.argv.slice(2));

/** What the confirmation asks, per choice. */
const QUESTIONS: Record<Choice, string> = {
  edited: `Resume task ${settings.task}? code-server stops and the task runs with the edited sources`,
  original: `Run the original code of task ${settings.task} again? code-server stops and the task runs as registered (your edits stay in the session's changes)`,
  fail: `End task ${settings.task} as failed? code-server stops and the node fails with the original error; downstream does not run`,
};

function readToken(file: string): string | undefined {
  try {
    return readFileSync(file, "utf8").trim();
  } catch {
    return undefined;
  }
}

async function confirmed(): Promise<boolean> {
  if (process.argv.includes("--yes")) return true;
  if (!process.stdin.isTTY) {
    console.error("resume: no terminal to ask for confirmation; run it with --yes");
    process.exit(2);
  }
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  const answer = await rl.question(`${QUESTIONS[choice]} [y/N] `);
  rl.close();
  return /^y(es)?$/i.test(answer.trim());
}

/** The agent's `resume` procedure: the HTTP status and body of its answer. */
function callResume(token: string): Promise<{ status: number | undefined; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        socketPath: controlSocket,
        path: "/resume",
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => (body += chunk));
        res.on("end", () => resolve({ status: res.statusCode, body }));
      },
    );
    req.on("error", reject);
    req.end(JSON.stringify({ choice }));
  });
}

if (!controlToken) {
  console.error(
    "resume: DRYDOCK_CONTROL_TOKEN is not set and the session's token file is gone; run this from a terminal of the task's VS Code",
  );
  process.exit(2);
}
if (!(await confirmed())) {
  console.log("not resumed");
  process.exit(1);
}
const answer = await callResume(controlToken).catch((error: Error) => {
  console.error(`resume: the agent is not answering on ${controlSocket}: ${error.message}`);
  process.exit(1);
});
const reply = JSON.parse(answer.body) as {
  result?: { data?: { accepted?: boolean; message?: string } };
  error?: { message?: string };
};
const result = reply.result?.data;
console.log(result?.message ?? `resume: the agent refused: ${reply.error?.message ?? answer.body}`);
process.exit(result?.accepted ? 0 : 1);
