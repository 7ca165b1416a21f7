import { randomBytes } from "node:crypto";
import { readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";

import { z } from "zod";

const SecretsSchema = z.object({ token: z.string().min(16), signingSecret: z.string().min(32), relayToken: z.string().min(16) });
export type Secrets = z.infer<typeof SecretsSchema>;
/** Data directories created before relays existed hold no relay token yet. */
const StoredSecretsSchema = SecretsSchema.partial({ relayToken: true });

const newToken = () => randomBytes(24).toString("hex");

/**
 * The local token, the relay token and the blob-signing secret, generated once per data directory and
 * kept there (0600).
 */
export async function loadSecrets(dataDir: string): Promise<Secrets> {
  const file = join(dataDir, "secrets.json");
  const existing = await readFile(file, "utf8").catch(() => undefined);
  if (existing) return withRelayToken(file, StoredSecretsSchema.parse(JSON.parse(existing)));
  const secrets = { token: newToken(), signingSecret: randomBytes(32).toString("hex"), relayToken: newToken() };
  await writeFile(file, JSON.stringify(secrets, null, 2), { mode: 0o600, flag: "wx" }).catch(async (error: NodeJS.ErrnoException) => {
    if (error.code !== "EEXIST") throw error;
  });
  return withRelayToken(file, StoredSecretsSchema.parse(JSON.parse(await readFile(file, "utf8"))));
}

async function withRelayToken(file: string, stored: z.infer<typeof StoredSecretsSchema>): Promise<Secrets> {
  if (stored.relayToken) return { ...stored, relayToken: stored.relayToken };
  const secrets = { ...stored, relayToken: newToken() };
  // Replace the file whole (write, then rename) so a crash never leaves it half-written.
  const next = `${file}.${process.pid}.tmp`;
  await writeFile(next, JSON.stringify(secrets, null, 2), { mode: 0o600 });
  await rename(next, file);
  return secrets;
}
