/** Driving the real VS Code workbench (code-server through the relay) as a user does: keys, views, terminal. */
import type { Page } from "playwright-core";

/** The text of every integrated terminal (the workspace turns the GPU renderer off, so it is in the page). */
export function terminalText(ide: Page): Promise<string> {
  return ide.evaluate(() =>
    Array.from(document.querySelectorAll(".xterm-rows"))
      .map((rows) => (rows as HTMLElement).innerText)
      .join("\n"),
  );
}

export async function waitForTerminal(
  ide: Page,
  text: string,
  timeoutMs = 90_000,
): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const seen = await terminalText(ide);
    if (seen.includes(text)) return seen;
    if (Date.now() > deadline)
      throw new Error(
        `the IDE's terminal never showed ${JSON.stringify(text)}; it shows:\n${seen}`,
      );
    await ide.waitForTimeout(250);
  }
}

/** Opens a workspace file in the editor with Quick Open (Ctrl+P). */
export async function openFile(ide: Page, name: string): Promise<void> {
  await ide.keyboard.press("Control+P");
  const input = ide.locator(".quick-input-widget input");
  await input.waitFor({ state: "visible" });
  await input.fill(name);
  await ide.locator(".quick-input-list .monaco-list-row", { hasText: name }).first().waitFor();
  await ide.keyboard.press("Enter");
  await ide.locator(`.tab[data-resource-name="${name}"].active`).waitFor();
}

/** The text of the editor area's editor (the panel's Debug Console has a monaco editor too). */
const EDITOR_TEXT = ".part.editor .editor-group-container.active .monaco-editor .view-lines";

/** Find and replace in the open editor (Ctrl+H, replace all), then save (Ctrl+S). */
export async function replaceAndSave(ide: Page, find: string, replace: string): Promise<void> {
  await ide.locator(EDITOR_TEXT).first().click();
  await ide.keyboard.press("Control+H");
  await ide.locator(".find-widget .replace-part").waitFor();
  await ide.keyboard.press("Control+A");
  await ide.keyboard.type(find);
  // Tab goes from the find field to the replace field.
  await ide.keyboard.press("Tab");
  await ide.keyboard.press("Control+A");
  await ide.keyboard.type(replace);
  await ide.keyboard.press("Control+Alt+Enter");
  await ide.keyboard.press("Escape");
  await ide.locator(EDITOR_TEXT).first().click();
  await ide.keyboard.press("Control+S");
  await ide.locator(".tab.active.dirty").waitFor({ state: "detached" });
}

/** Starts a launch configuration from the Run and Debug view: pick it in the view's drop-down, press Start. */
export async function startFromRunAndDebug(ide: Page, configuration: string): Promise<void> {
  await ide.keyboard.press("Control+Shift+D");
  const dropdown = ide.locator('.part.sidebar [aria-label^="Debug Launch Configurations"]');
  await dropdown.waitFor();
  // The drop-down closes itself when VS Code rebuilds its list (the launch configurations were just read, say):
  // pick again, a few times, until the view shows the configuration.
  for (let attempt = 1; (await dropdown.getAttribute("title")) !== configuration; attempt++) {
    try {
      await dropdown.click();
      await ide
        .locator(".context-view .monaco-list-row, .context-view .action-item", {
          hasText: configuration,
        })
        .first()
        .click({ timeout: 10_000 });
      await ide
        .locator(
          `.part.sidebar [aria-label^="Debug Launch Configurations"][title="${configuration}"]`,
        )
        .waitFor({ timeout: 10_000 });
    } catch (error) {
      if (attempt === 3) throw error;
      await ide.keyboard.press("Escape");
      await ide.waitForTimeout(1_000);
    }
  }
  await ide
    .locator('.part.sidebar .start-debug-action-item [aria-label^="Start Debugging"]')
    .click();
}

/** Types into the active integrated terminal (e.g. answering a prompt). */
export async function typeInTerminal(ide: Page, text: string): Promise<void> {
  await ide.locator(".terminal-wrapper.active .xterm-screen").click();
  await ide.keyboard.type(text);
  await ide.keyboard.press("Enter");
}

/** Runs a command by its title from the command palette (F1). */
export async function runCommand(ide: Page, title: string): Promise<void> {
  await ide.keyboard.press("F1");
  const input = ide.locator(".quick-input-widget input");
  await input.waitFor({ state: "visible" });
  await input.fill(`>${title}`);
  // The row itself, not Enter: recently used commands may be listed above it.
  const row = ide.locator(".quick-input-list .monaco-list-row", { hasText: title }).first();
  await row.waitFor();
  await row.click();
}

/** Search in files (Ctrl+Shift+F, VS Code's ripgrep): the file names of the results once some are listed. */
export async function searchInFiles(ide: Page, text: string): Promise<string[]> {
  await ide.keyboard.press("Control+Shift+F");
  const input = ide
    .locator(".search-view .search-widget textarea, .search-view .search-widget input")
    .first();
  await input.waitFor({ state: "visible" });
  await input.fill(text);
  await ide.keyboard.press("Enter");
  const files = ide.locator(".search-view .results .filematch .label-name");
  await files.first().waitFor({ timeout: 30_000 });
  return files.allInnerTexts();
}

/** Help: About's dialog text (the versions of code-server and VS Code), the dialog closed again. */
export async function aboutText(ide: Page): Promise<string> {
  await runCommand(ide, "Help: About");
  const dialog = ide.locator(".monaco-dialog-box");
  await dialog.waitFor({ timeout: 15_000 });
  const text = await dialog.innerText();
  await ide.keyboard.press("Escape");
  await dialog.waitFor({ state: "detached" });
  return text;
}
