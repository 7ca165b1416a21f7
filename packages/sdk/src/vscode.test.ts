import { describe, expect, it } from "vitest";
import { z } from "zod";

import { ENTITY } from "./entity.js";
import { runWorkflow } from "./local-runner.js";
import { task } from "./task.js";
import { COPILOT_EXTENSION, VIM_EXTENSION, VscodeConfig, vscode } from "./vscode.js";
import { workflow } from "./workflow.js";

describe("vscode(...)", () => {
  it("is a pass-through locally: the function runs and the hooks do not", async () => {
    const hooks: string[] = [];
    const sayHello = task(
      { name: "say_hello", inputs: { name: z.string() }, output: z.string() },
      vscode(
        {
          maxIdleSeconds: 60_000,
          preExecute: () => hooks.push("pre"),
          postExecute: () => hooks.push("post"),
        },
        async ({ name }) => `Hello, ${name}!`,
      ),
    );
    await expect(sayHello.run({ name: "Ada" })).resolves.toBe("Hello, Ada!");
    await expect(sayHello[ENTITY].execute({ name: "Bo" })).resolves.toBe("Hello, Bo!");
    const wf = workflow({ name: "wf", inputs: { name: z.string().default("world") } }, ({ name }) =>
      sayHello({ name }),
    );
    await expect(runWorkflow(wf, {})).resolves.toBe("Hello, world!");
    expect(hooks).toEqual([]);
  });

  it("puts the interactive settings, with defaults, into the task spec", () => {
    const bare = task(
      { name: "bare", inputs: {}, output: z.number() },
      vscode(() => 1),
    );
    expect(bare[ENTITY].spec.interactive).toEqual({
      enable: true,
      maxIdleSeconds: 36_000,
      runTaskFirst: false,
      preExecute: false,
      extensions: [],
    });

    const config = new VscodeConfig().addExtensions([COPILOT_EXTENSION, VIM_EXTENSION]);
    const custom = task(
      { name: "custom", inputs: {}, output: z.number() },
      vscode(
        {
          maxIdleSeconds: 600,
          runTaskFirst: true,
          enable: false,
          port: 9000,
          config,
          preExecute: () => undefined,
        },
        () => 2,
      ),
    );
    expect(custom[ENTITY].spec.interactive).toEqual({
      enable: false,
      maxIdleSeconds: 600,
      runTaskFirst: true,
      // Whether there is a hook (it runs before code-server starts); the hook itself stays in the module.
      preExecute: true,
      port: 9000,
      extensions: [COPILOT_EXTENSION, VIM_EXTENSION],
    });
  });

  it('takes onFailure "pause" and maxUnopenedSeconds, and refuses pause with runTaskFirst, naming both', () => {
    const paused = task(
      { name: "paused", inputs: {}, output: z.number() },
      vscode({ onFailure: "pause", maxUnopenedSeconds: 120 }, () => 3),
    );
    expect(paused[ENTITY].spec.interactive).toMatchObject({
      onFailure: "pause",
      maxUnopenedSeconds: 120,
    });
    expect(() => vscode({ onFailure: "pause", runTaskFirst: true }, () => 1)).toThrow(
      /onFailure "pause" and runTaskFirst cannot be combined/,
    );
    expect(() => vscode({ maxUnopenedSeconds: 0 }, () => 1)).toThrow(/maxUnopenedSeconds/);
    expect(() => vscode({ onFailure: "retry" as "pause" }, () => 1)).toThrow(/onFailure/);
  });

  it("keeps the author's own function on the entity, unwrapped from vscode(...)", () => {
    const fn = () => 4;
    const plain = task({ name: "plain_fn", inputs: {}, output: z.number() }, fn);
    const wrapped = task({ name: "wrapped_fn", inputs: {}, output: z.number() }, vscode(fn));
    expect(plain[ENTITY].fn).toBe(fn);
    expect(wrapped[ENTITY].fn).toBe(fn);
  });

  it("leaves interactive out of plain tasks", () => {
    const plain = task({ name: "plain", inputs: {}, output: z.number() }, () => 1);
    expect(plain[ENTITY].spec).not.toHaveProperty("interactive");
    expect(plain[ENTITY]).not.toHaveProperty("interactive");
  });

  it("keeps the options, hooks and the author's function on the task entity", () => {
    const preExecute = () => "pre";
    const fn = ({ x }: { x: number }) => x * 2;
    const doubled = task(
      { name: "doubled", inputs: { x: z.number() }, output: z.number() },
      vscode({ preExecute, maxIdleSeconds: 5 }, fn),
    );
    const interactive = doubled[ENTITY].interactive;
    expect(interactive?.fn).toBe(fn);
    expect(interactive?.options.preExecute).toBe(preExecute);
    expect(interactive?.options.maxIdleSeconds).toBe(5);
  });

  it("rejects invalid options when the task is defined", () => {
    expect(() => vscode({ maxIdleSeconds: -1 }, () => 1)).toThrow(
      /invalid vscode options: maxIdleSeconds/,
    );
    expect(() => vscode({ port: 70_000 }, () => 1)).toThrow(/invalid vscode options: port/);
  });
});

describe("VscodeConfig", () => {
  it("gives every config its own extension list", () => {
    const a = new VscodeConfig();
    const b = new VscodeConfig();
    a.addExtensions(COPILOT_EXTENSION);
    expect(a.extensions).toEqual([COPILOT_EXTENSION]);
    expect(b.extensions).toEqual([]);
    expect(new VscodeConfig().extensions).toEqual([]);
  });

  it("copies the list it is given and ignores duplicates", () => {
    const initial = [VIM_EXTENSION];
    const config = new VscodeConfig({ extensions: initial });
    expect(config.addExtensions([VIM_EXTENSION, "/opt/ext/my.vsix"])).toBe(config);
    expect(config.extensions).toEqual([VIM_EXTENSION, "/opt/ext/my.vsix"]);
    expect(initial).toEqual([VIM_EXTENSION]);
  });

  it("snapshots the extensions into the spec when the task is defined", () => {
    const config = new VscodeConfig();
    const t = task(
      { name: "snap", inputs: {}, output: z.null() },
      vscode({ config }, () => null),
    );
    config.addExtensions(COPILOT_EXTENSION);
    expect(t[ENTITY].spec.interactive?.extensions).toEqual([]);
  });

  it("rejects empty extension names", () => {
    expect(() => new VscodeConfig().addExtensions("")).toThrow(
      "VscodeConfig.addExtensions expects URLs or paths",
    );
  });

  it("points the predefined extensions at Open VSX", () => {
    expect(COPILOT_EXTENSION).toBe(
      "https://open-vsx.org/api/GitHub/copilot/1.138.563/file/GitHub.copilot-1.138.563.vsix",
    );
    expect(VIM_EXTENSION).toBe(
      "https://open-vsx.org/api/vscodevim/vim/1.27.0/file/vscodevim.vim-1.27.0.vsix",
    );
  });
});
