// The postgres service's health check: exits 0 once PostgreSQL accepts a login (not merely a connection).
const { Client } = require("/opt/drydock/server/node_modules/pg");

const client = new Client({ host: "127.0.0.1", user: "postgres", password: process.env.POSTGRES_PASSWORD, database: "postgres", connectionTimeoutMillis: 3000 });
client.connect().then(
  () => client.end().then(() => process.exit(0)),
  (error) => {
    console.error(`postgres is not ready: ${error.message}`);
    process.exit(1);
  },
);
