#!/bin/sh
# server | relay | postgres | any other command.
set -eu
case "${1:-server}" in
  server) shift || true; exec node /opt/drydock/server/dist/main.js "$@" ;;
  relay) shift; exec node /opt/drydock/relay/dist/main.js "$@" ;;
  postgres) shift; exec /opt/drydock/bin/postgres.sh "$@" ;;
  *) exec "$@" ;;
esac
