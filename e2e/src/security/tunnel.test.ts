/**
 * The tunnel under a real IDE stays up as long as both ends live, busy or idle: it used to drop every 45 s,
 * taking the workbench's WebSockets with it. (When it does die: tunnel-death.test.ts.)
 */
import { describe, expect, it } from "vitest";

import { runCommand, terminalText } from "../ide.js";
import { waitFor } from "../harness.js";
import { tunnelFixture } from "./tunnel-fixture.js";

/** How long the IDE is kept busy; by default five minutes, many times the 45 s after which the tunnel used to drop. */
const SOAK_SECONDS = Number(process.env.DRYDOCK_TUNNEL_SOAK_SECONDS ?? 300);

const { openIde, tunnelLines } = tunnelFixture();

describe("the tunnel under a real IDE", () => {
  it(
    `keeps one tunnel and the workbench's WebSockets for ${SOAK_SECONDS} s of typing in the IDE's terminal`,
    async () => {
      const sockets = { opened: [] as string[], closed: [] as string[] };
      const page = await openIde(sockets);
      // A terminal of its own, focused: every keystroke crosses the tunnel to its shell and the echo comes back.
      // The palette may open before the workbench registered its commands: try again after a moment.
      for (let attempt = 1; ; attempt++) {
        try {
          await runCommand(page, "Terminal: Create New Terminal");
          break;
        } catch (error) {
          if (attempt === 3) throw error;
          await page.keyboard.press("Escape");
          await page.waitForTimeout(2_000);
        }
      }
      await page.locator(".terminal-wrapper.active .xterm-screen").last().waitFor();
      await page.waitForTimeout(1_000);
      // What the workbench holds once it settled: a reconnect would close one and open another.
      await page.waitForTimeout(2_000);
      const openedBefore = sockets.opened.length;
      const closedBefore = sockets.closed.length;
      const connectedBefore = tunnelLines("connected").length;
      const tunnelsClosedBefore = tunnelLines("closed").length;
      const started = Date.now();
      let ticks = 0;
      while (Date.now() - started < SOAK_SECONDS * 1_000) {
        await page.keyboard.type(`echo tick-${ticks}`, { delay: 20 });
        await page.keyboard.press("Enter");
        ticks++;
        await page.waitForTimeout(1_000);
      }
      // The last keystrokes made the round trip through the tunnel to the shell and back.
      await waitFor(
        "the last tick in the terminal",
        async () => ((await terminalText(page)).includes(`tick-${ticks - 1}`) ? true : undefined),
        15_000,
      );
      console.log(
        `tunnel soak: ${ticks} commands typed over ${Math.round((Date.now() - started) / 1000)} s; tunnel closes ${tunnelLines("closed").length - tunnelsClosedBefore}; ` +
          `the workbench's WebSockets: ${openedBefore - closedBefore} open at the start, ${sockets.opened.length - openedBefore} opened and ${sockets.closed.length - closedBefore} closed since`,
      );
      expect(tunnelLines("closed").slice(tunnelsClosedBefore)).toEqual([]);
      expect(tunnelLines("connected").length).toBe(connectedBefore);
      expect(openedBefore).toBeGreaterThan(0);
      expect(sockets.closed.slice(closedBefore)).toEqual([]);
      expect(sockets.opened.slice(openedBefore)).toEqual([]);
      expect(
        await page
          .locator("text=/Cannot reconnect|Attempting to reconnect|connection.*lost/i")
          .count(),
      ).toBe(0);
      await page.context().close();
    },
    (SOAK_SECONDS + 120) * 1_000,
  );
});
