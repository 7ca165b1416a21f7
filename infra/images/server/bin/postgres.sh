#!/bin/sh
# PostgreSQL for the compose stack: initialises the data directory on first start (the password from
# POSTGRES_PASSWORD, scram-sha-256 for every network client), then runs postgres as the postgres user.
set -eu
: "${POSTGRES_PASSWORD:?POSTGRES_PASSWORD must be set}"
PGDATA="${PGDATA:-/var/lib/drydock/postgres}"
bin=/opt/drydock/postgres/bin
# The binaries come with their own libraries (libpq, ICU, OpenSSL 1.1), beside them in the package.
export LD_LIBRARY_PATH=/opt/drydock/postgres/lib
mkdir -p "$PGDATA"
chown postgres:postgres "$PGDATA"
chmod 0700 "$PGDATA"
as_postgres() { setpriv --reuid=postgres --regid=postgres --init-groups "$@"; }
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  pwfile="$(mktemp)"
  printf '%s\n' "$POSTGRES_PASSWORD" > "$pwfile"
  chown postgres "$pwfile"
  as_postgres "$bin/initdb" -D "$PGDATA" -U postgres --pwfile="$pwfile" -A scram-sha-256 -E UTF8 --locale=C.UTF-8 >/dev/null
  rm -f "$pwfile"
  echo "host all all all scram-sha-256" >> "$PGDATA/pg_hba.conf"
  echo "postgres: initialised $PGDATA"
fi
exec setpriv --reuid=postgres --regid=postgres --init-groups "$bin/postgres" -D "$PGDATA" -c listen_addresses='*' -c unix_socket_directories=/tmp
