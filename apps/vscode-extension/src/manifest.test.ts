import { readFileSync } from "node:fs";

import { describe, expect, it } from "vitest";

import { COMMANDS, VIEW_CONTAINER_ID, VIEW_ID } from "./command-ids.js";
import { PAUSED_CONTEXT_KEY } from "./paused.js";

interface Manifest {
  name: string;
  publisher: string;
  displayName: string;
  main: string;
  engines: { vscode: string };
  exports: Record<string, string>;
  activationEvents: string[];
  contributes: {
    viewsContainers: { activitybar: { id: string; title: string; icon: string }[] };
    views: Record<string, { id: string; name: string }[]>;
    commands: { command: string; title: string }[];
    menus: Record<string, { command: string; when: string }[]>;
  };
  devDependencies: Record<string, string>;
}

const manifest = JSON.parse(
  readFileSync(new URL("../package.json", import.meta.url), "utf8"),
) as Manifest;

describe("package.json as the extension's manifest", () => {
  it("is the drydock extension for VS Code 1.100 (code-server 4.100), its bundle the main", () => {
    expect(manifest).toMatchObject({
      publisher: "drydock",
      displayName: "Drydock",
      main: "./dist/extension.cjs",
      engines: { vscode: "^1.100.0" },
    });
    expect(manifest.exports["./vsix"]).toBe("./dist/drydock.vsix");
  });

  it("contributes exactly the commands the extension registers, titled 'Drydock: …'", () => {
    expect(manifest.contributes.commands.map((c) => c.command).sort()).toEqual(
      Object.values(COMMANDS).sort(),
    );
    for (const command of manifest.contributes.commands)
      expect(command.title).toMatch(/^Drydock: \S/);
  });

  it("activates at startup, on the view and on every command", () => {
    expect(manifest.activationEvents).toEqual([
      "onStartupFinished",
      `onView:${VIEW_ID}`,
      ...Object.values(COMMANDS).map((id) => `onCommand:${id}`),
    ]);
  });

  it("puts the Task view in a Drydock container of the activity bar", () => {
    expect(manifest.contributes.viewsContainers.activitybar).toEqual([
      expect.objectContaining({ id: VIEW_CONTAINER_ID, title: "Drydock" }),
    ]);
    expect(manifest.contributes.views[VIEW_CONTAINER_ID]).toEqual([
      expect.objectContaining({ id: VIEW_ID, name: "Task" }),
    ]);
  });

  it("titles the resume choices as the IDE names them, the paused-only ones offered only while paused", () => {
    const title = (id: string) =>
      manifest.contributes.commands.find((c) => c.command === id)?.title;
    expect([COMMANDS.resumeTask, COMMANDS.resumeOriginal, COMMANDS.endAsFailed].map(title)).toEqual(
      [
        "Drydock: Resume Task",
        "Drydock: Resume Task with Original Code",
        "Drydock: End Task as Failed",
      ],
    );
    const pausedOnly = new Set<string>([COMMANDS.resumeOriginal, COMMANDS.endAsFailed]);
    expect(
      manifest.contributes.menus.commandPalette?.filter((entry) => pausedOnly.has(entry.command)),
    ).toEqual([
      { command: COMMANDS.resumeOriginal, when: PAUSED_CONTEXT_KEY },
      { command: COMMANDS.endAsFailed, when: PAUSED_CONTEXT_KEY },
    ]);
    expect(
      manifest.contributes.menus["view/title"]
        ?.filter((entry) => pausedOnly.has(entry.command))
        .map((entry) => entry.when),
    ).toEqual([
      `view == ${VIEW_ID} && ${PAUSED_CONTEXT_KEY}`,
      `view == ${VIEW_ID} && ${PAUSED_CONTEXT_KEY}`,
    ]);
    // Resume Task (the edited sources) is for every session: never hidden behind the paused key.
    for (const entries of Object.values(manifest.contributes.menus))
      for (const entry of entries)
        if (entry.command === COMMANDS.resumeTask)
          expect(entry.when).not.toContain(PAUSED_CONTEXT_KEY);
  });

  it("offers only registered commands in its menus", () => {
    const ids = new Set<string>(Object.values(COMMANDS));
    for (const entries of Object.values(manifest.contributes.menus))
      for (const entry of entries) expect(ids.has(entry.command)).toBe(true);
  });
});
