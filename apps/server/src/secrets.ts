import { randomBytes } from "node:crypto";
import { readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";

import { z } from "zod";

const SecretsSchema = z.object({
  token: z.string().min(16),
  signingSecret: z.string().min(32),
  relayToken: z.string().min(16),
  /** The embedded PostgreSQL's application role (`drydock`, not a superuser). */
  databasePassword: z.string().min(16),
  /** The embedded PostgreSQL's superuser (`postgres`), used only to set up roles and the database. */
  databaseAdminPassword: z.string().min(16),
});
export type Secrets = z.infer<typeof SecretsSchema>;
/** Data directories from older versions lack the secrets added since: the relay token, the database passwords. */
const StoredSecretsSchema = SecretsSchema.partial({
  relayToken: true,
  databasePassword: true,
  databaseAdminPassword: true,
});
type StoredSecrets = z.infer<typeof StoredSecretsSchema>;

const newToken = () => randomBytes(24).toString("hex");
const generate = (): Secrets => ({
  token: newToken(),
  signingSecret: randomBytes(32).toString("hex"),
  relayToken: newToken(),
  databasePassword: newToken(),
  databaseAdminPassword: newToken(),
});

/**
 * The local token, the relay token, the blob-signing secret and the embedded PostgreSQL's passwords,
 * generated once per data directory and kept there (0600).
 */
export async function loadSecrets(dataDir: string): Promise<Secrets> {
  const file = join(dataDir, "secrets.json");
  const existing = await readFile(file, "utf8").catch(() => undefined);
  if (existing) return withNewSecrets(file, StoredSecretsSchema.parse(JSON.parse(existing)));
  await writeFile(file, JSON.stringify(generate(), null, 2), { mode: 0o600, flag: "wx" }).catch(
    (error: NodeJS.ErrnoException) => {
      if (error.code !== "EEXIST") throw error;
    },
  );
  return withNewSecrets(file, StoredSecretsSchema.parse(JSON.parse(await readFile(file, "utf8"))));
}

/** Adds the secrets an older data directory lacks, keeping the ones it has. */
async function withNewSecrets(file: string, stored: StoredSecrets): Promise<Secrets> {
  const secrets = { ...generate(), ...stored };
  if (Object.keys(secrets).every((key) => key in stored)) return secrets;
  // Replace the file whole (write, then rename) so a crash never leaves it half-written.
  const next = `${file}.${process.pid}.tmp`;
  await writeFile(next, JSON.stringify(secrets, null, 2), { mode: 0o600 });
  await rename(next, file);
  return secrets;
}
