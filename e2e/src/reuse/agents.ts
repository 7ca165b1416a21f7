/** Which agents ran while something happened, from the process table (an agent's command line names its attempt). */
import { processTable } from "../harness.js";

const AGENT_ATTEMPT = /--attempt\s+(\S+)/;

/** Samples the process table until `stop`; the attempt ids of every agent process it saw. */
export function sampleAgents(): { stop(): Promise<Set<string>> } {
  const seen = new Set<string>();
  let running = true;
  const loop = (async () => {
    while (running) {
      for (const { cmdline } of await processTable()) {
        const attempt = AGENT_ATTEMPT.exec(cmdline)?.[1];
        if (attempt && cmdline.includes("agent")) seen.add(attempt);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return seen;
    },
  };
}
