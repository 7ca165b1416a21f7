import pg from "pg";

/** The embedded cluster's superuser: used only to set up the roles and the database, here. */
export const ADMIN_ROLE = "postgres";
/** The server's own role: it owns the database and its tables, and is not a superuser. */
export const APP_ROLE = "drydock";
export const DATABASE = "drydock";
/** Clusters of older versions: the application's role was the bootstrap superuser, with this password. */
const LEGACY = { user: "drydock", password: "drydock" };
/** A superuser that exists only while an older cluster's bootstrap role is renamed (a role cannot rename itself). */
const UPGRADE_ROLE = "drydock_upgrade";

/** Where the cluster listens: its Unix socket's directory and port (which names the socket). */
export interface ClusterSocket {
  dir: string;
  port: number;
}

export interface DatabasePasswords {
  admin: string;
  app: string;
}

async function session<T>(
  socket: ClusterSocket,
  user: string,
  password: string,
  fn: (c: pg.Client) => Promise<T>,
  database = "postgres",
): Promise<T> {
  const client = new pg.Client({ host: socket.dir, port: socket.port, user, password, database });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** False when PostgreSQL refuses the user or the password (it says which only in its own log). */
async function canSignIn(socket: ClusterSocket, user: string, password: string): Promise<boolean> {
  try {
    await session(socket, user, password, () => Promise.resolve());
    return true;
  } catch (error) {
    if (["28P01", "28000"].includes((error as { code?: string }).code ?? "")) return false;
    throw error;
  }
}

/**
 * Older versions made `drydock` the bootstrap superuser, which can never lose SUPERUSER: it becomes
 * `postgres` (renamed from a temporary superuser's session) with the kept admin password, and `drydock` is
 * made anew by `ensureRoles`. Each step can run again, so an upgrade cut short finishes on the next start.
 */
async function upgradeLegacyCluster(socket: ClusterSocket, admin: string): Promise<void> {
  await session(socket, LEGACY.user, LEGACY.password, async (c) => {
    await c.query(
      `DO $$ BEGIN CREATE ROLE ${UPGRADE_ROLE}; EXCEPTION WHEN duplicate_object THEN NULL; END $$`,
    );
    await c.query(
      `ALTER ROLE ${UPGRADE_ROLE} WITH SUPERUSER LOGIN PASSWORD ${c.escapeLiteral(admin)}`,
    );
  });
  await session(socket, UPGRADE_ROLE, admin, (c) =>
    c.query(
      `BEGIN; ALTER ROLE ${LEGACY.user} RENAME TO ${ADMIN_ROLE}; ALTER ROLE ${ADMIN_ROLE} WITH PASSWORD ${c.escapeLiteral(admin)}; COMMIT`,
    ),
  );
}

/** The password the superuser signs in with now: initdb's one-time password, the kept one, or (older clusters) the kept one once upgraded. */
async function adminPassword(
  socket: ClusterSocket,
  passwords: DatabasePasswords,
  initPassword: string | undefined,
): Promise<string> {
  const password = initPassword ?? passwords.admin;
  if (await canSignIn(socket, ADMIN_ROLE, password)) return password;
  if (initPassword === undefined && (await canSignIn(socket, LEGACY.user, LEGACY.password))) {
    await upgradeLegacyCluster(socket, passwords.admin);
    return passwords.admin;
  }
  throw new Error(
    `cannot sign in to the embedded PostgreSQL as "${ADMIN_ROLE}": its password is not the one kept in secrets.json`,
  );
}

/** Hands every table, view and sequence of the public schema (and the schema) to the application's role. */
const OWN_PUBLIC_SCHEMA = `
ALTER SCHEMA public OWNER TO ${APP_ROLE};
DO $$
DECLARE r record;
BEGIN
  FOR r IN
    SELECT c.oid::regclass AS name, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm', 'S') AND c.relowner <> '${APP_ROLE}'::regrole
      -- a sequence owned by a column follows its table
      AND NOT (c.relkind = 'S' AND EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype IN ('a', 'i')))
  LOOP
    EXECUTE format('ALTER %s %s OWNER TO ${APP_ROLE}',
      CASE r.relkind WHEN 'S' THEN 'SEQUENCE' WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW' ELSE 'TABLE' END, r.name);
  END LOOP;
END $$;`;

/**
 * Makes the cluster's roles what the server expects, whichever version created it: `postgres` the superuser
 * with the kept admin password, `drydock` a plain login role with the kept application password, owning the
 * `drydock` database and everything in it. Run on every start; each statement is idempotent.
 */
export async function ensureRoles(
  socket: ClusterSocket,
  passwords: DatabasePasswords,
  initPassword?: string,
): Promise<void> {
  const password = await adminPassword(socket, passwords, initPassword);
  await session(socket, ADMIN_ROLE, password, async (c) => {
    await c.query(`DROP ROLE IF EXISTS ${UPGRADE_ROLE}`);
    await c.query(`ALTER ROLE ${ADMIN_ROLE} WITH PASSWORD ${c.escapeLiteral(passwords.admin)}`);
    await c.query(
      `DO $$ BEGIN CREATE ROLE ${APP_ROLE}; EXCEPTION WHEN duplicate_object THEN NULL; END $$`,
    );
    await c.query(
      `ALTER ROLE ${APP_ROLE} WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD ${c.escapeLiteral(passwords.app)}`,
    );
    const { rowCount } = await c.query("SELECT 1 FROM pg_database WHERE datname = $1", [DATABASE]);
    await c.query(
      rowCount
        ? `ALTER DATABASE ${DATABASE} OWNER TO ${APP_ROLE}`
        : `CREATE DATABASE ${DATABASE} OWNER ${APP_ROLE}`,
    );
  });
  await session(socket, ADMIN_ROLE, passwords.admin, (c) => c.query(OWN_PUBLIC_SCHEMA), DATABASE);
}
