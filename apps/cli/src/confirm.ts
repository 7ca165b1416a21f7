import { createInterface } from "node:readline/promises";

/** Whether the CLI may ask the user something: only when stdin is a terminal (never in a pipe or CI). */
export const canAsk = (): boolean => Boolean(process.stdin.isTTY);

/**
 * Asks a yes/no question on stderr and reads the answer from stdin. Only `y` or `yes` is yes; Enter, any
 * other answer, Ctrl-C and Ctrl-D are no.
 */
export async function confirm(question: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await new Promise<string>((resolve) => {
      // readline swallows Ctrl-C while it reads a terminal: treat it as "no", like the end of input.
      rl.once("SIGINT", () => {
        process.stderr.write("\n");
        rl.close();
      });
      rl.once("close", () => resolve(""));
      rl.question(`${question} [y/N] `).then(resolve, () => resolve(""));
    });
    return /^\s*y(es)?\s*$/i.test(answer);
  } finally {
    rl.close();
  }
}
