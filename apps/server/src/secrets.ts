import { randomBytes } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";

import { z } from "zod";

const SecretsSchema = z.object({ token: z.string().min(16), signingSecret: z.string().min(32) });
export type Secrets = z.infer<typeof SecretsSchema>;

/** The local token and the blob-signing secret, generated once per data directory and kept there (0600). */
export async function loadSecrets(dataDir: string): Promise<Secrets> {
  const file = join(dataDir, "secrets.json");
  const existing = await readFile(file, "utf8").catch(() => undefined);
  if (existing) return SecretsSchema.parse(JSON.parse(existing));
  const secrets = { token: randomBytes(24).toString("hex"), signingSecret: randomBytes(32).toString("hex") };
  await writeFile(file, JSON.stringify(secrets, null, 2), { mode: 0o600, flag: "wx" }).catch(async (error: NodeJS.ErrnoException) => {
    if (error.code !== "EEXIST") throw error;
  });
  return SecretsSchema.parse(JSON.parse(await readFile(file, "utf8")));
}
