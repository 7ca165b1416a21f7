/**
 * The workbench's first load over the emulated link: a real code-server (the agent's IDE runtime) on the task's
 * side, a real Chromium on the user's, a fresh browser context (empty cache) per load. Direct, the browser opens
 * code-server across the link; through the relay, it opens the session's origin on its side of the link, and the
 * relay carries it through the agent end's tunnel. A load ends when the explorer lists the workspace's file: the
 * page, its scripts, and the workbench's WebSocket to code-server all came through.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { chmod, mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";

import { defaultIdeDir, ensureCodeServer, USER_SETTINGS } from "@drydock/agent";
import { chromium, type Browser } from "playwright-core";

import { SESSION_COOKIE } from "../../src/cookies.js";

/** Where code-server listens in the task's namespace (a fresh namespace: nothing else holds the port). */
export const CODE_SERVER_PORT = 8080;
const FILE = "workflow.ts";

/** Installs the IDE runtime if this machine lacks it (as the agent does on first use); resolves with its binary. */
export function codeServerBinary(log: (line: string) => void): Promise<string> {
  return ensureCodeServer({
    ideDir: defaultIdeDir(process.env),
    env: process.env,
    onProgress: (line) => log(`code-server install: ${line}`),
  });
}

/** code-server in the task's namespace, on every address of it (the direct path comes across the link). */
export class LinkedCodeServer {
  private constructor(private readonly child: ChildProcess) {}

  static async start(bin: string, netns: string, scratch: string): Promise<LinkedCodeServer> {
    const workspace = join(scratch, "workspace");
    const profile = join(scratch, "profile");
    await mkdir(join(profile, "data", "User"), { recursive: true });
    await mkdir(workspace, { recursive: true });
    await writeFile(join(workspace, FILE), "export const answer = 42;\n");
    await writeFile(join(profile, "data", "User", "settings.json"), JSON.stringify(USER_SETTINGS));
    const child = spawn(
      "ip",
      [
        ...["netns", "exec", netns, bin],
        ...["--bind-addr", `0.0.0.0:${CODE_SERVER_PORT}`, "--auth", "none"],
        ...["--disable-telemetry", "--disable-update-check", "--disable-workspace-trust"],
        ...["--disable-getting-started-override", "--disable-proxy"],
        ...[
          "--user-data-dir",
          join(profile, "data"),
          "--extensions-dir",
          join(profile, "extensions"),
        ],
        workspace,
      ],
      // Its own process group: stopping it ends what it started (extension hosts).
      { detached: true, stdio: "ignore", env: { ...process.env, HOME: profile } },
    );
    return new LinkedCodeServer(child);
  }

  async stop(): Promise<void> {
    const { pid } = this.child;
    if (pid === undefined || this.child.exitCode !== null) return;
    const exited = new Promise((resolve) => this.child.once("exit", resolve));
    const signal = (sig: NodeJS.Signals) => {
      try {
        process.kill(-pid, sig);
      } catch {
        // Already gone.
      }
    };
    signal("SIGTERM");
    const timer = setTimeout(() => signal("SIGKILL"), 3_000);
    await exited;
    clearTimeout(timer);
  }
}

/** A page to load: its URL, and the relay's cookie when it goes through the relay. */
export interface WorkbenchPath {
  name: "direct" | "relay";
  url: string;
  cookie?: { value: string; domain: string };
}

/** Chromium in the user's namespace: playwright's pipe to it is inherited through `ip netns exec`. */
export async function browserIn(netns: string, scratch: string): Promise<Browser> {
  const wrapper = join(scratch, "chromium-in-netns");
  await writeFile(wrapper, `#!/bin/sh\nexec ip netns exec ${netns} /usr/bin/chromium "$@"\n`);
  await chmod(wrapper, 0o755);
  return chromium.launch({ executablePath: wrapper });
}

/** One first load in a fresh context: ms from navigation to the explorer listing the workspace's file. */
export async function firstLoad(browser: Browser, path: WorkbenchPath): Promise<number> {
  const context = await browser.newContext();
  try {
    if (path.cookie)
      await context.addCookies([
        { name: SESSION_COOKIE, value: path.cookie.value, domain: path.cookie.domain, path: "/" },
      ]);
    const page = await context.newPage();
    const started = performance.now();
    await page.goto(path.url);
    await page
      .locator(".explorer-folders-view .monaco-list-row", { hasText: FILE })
      .waitFor({ timeout: 90_000 });
    return performance.now() - started;
  } finally {
    await context.close();
  }
}
