// Checks the test bed's load balancer (haproxy.cfg) from this machine, against the stand-ins of
// engines.sh smoke (stand-in.cjs): two servers behind :8484, two relays behind :8485.
//
//   node infra/swarm/lb-probe.cjs <haproxy address>              the API is balanced; each session host sticks to
//                                                                one relay; agent-style upgrades pass and echo
//   node infra/swarm/lb-probe.cjs <haproxy address> --failover   ends the relay owning s1 and measures how soon
//                                                                its sessions answer elsewhere, and that the
//                                                                replacement relay does not take them back
// Prints one line per check; exits 1 on the first that fails.
const http = require("node:http");
const net = require("node:net");

const [address, mode] = process.argv.slice(2);
const IDE_HOST = "ide.localhost:8485";
// Host names of this run only: HAProxy remembers which relay every host it has seen went to.
const run = require("node:crypto").randomBytes(3).toString("hex");
const sessionHost = (name) => `${name}-${run}.${IDE_HOST}`;
const started = Date.now();
const seconds = (since) => `${((Date.now() - since) / 1000).toFixed(1)} s`;

function fail(message) {
  console.error(`FAIL ${message}`);
  process.exit(1);
}

/** One request on a connection of its own; resolves with the stand-in's JSON. */
function get(port, host, path = "/") {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: address, port, path, headers: { host }, agent: false, timeout: 3000 }, (res) => {
      let body = "";
      res.on("data", (chunk) => (body += chunk));
      res.on("end", () => {
        if (res.statusCode !== 200) return reject(new Error(`${host}${path}: ${res.statusCode}`));
        try {
          resolve(JSON.parse(body));
        } catch {
          reject(new Error(`${host}${path}: not JSON: ${body.slice(0, 80)}`));
        }
      });
    });
    req.on("timeout", () => req.destroy(new Error(`${host}${path}: timed out`)));
    req.on("error", reject);
  });
}

/** An agent's tunnel dial: the Upgrade, then bytes through. Resolves with { instance, socket } once echoed. */
function dialTunnel(host) {
  return new Promise((resolve, reject) => {
    const socket = net.connect(8485, address);
    const timer = setTimeout(() => socket.destroy(new Error(`tunnel to ${host}: timed out`)), 3000);
    let seen = "";
    let instance;
    const preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
    socket.on("error", (error) => (clearTimeout(timer), reject(error)));
    socket.on("close", () => (clearTimeout(timer), reject(new Error(`tunnel to ${host}: closed early: ${seen.slice(0, 120)}`))));
    socket.on("connect", () =>
      socket.write(
        `GET /__drydock/tunnel HTTP/1.1\r\nHost: ${host}\r\nConnection: Upgrade\r\nUpgrade: drydock-tunnel/1\r\n` +
          "Authorization: Bearer test\r\n\r\n",
      ),
    );
    socket.on("data", (chunk) => {
      seen += chunk.toString("latin1");
      const end = seen.indexOf("\r\n\r\n");
      if (instance === undefined && end >= 0) {
        if (!/^HTTP\/1\.1 101 /.test(seen)) return socket.destroy(new Error(`tunnel to ${host}: ${seen.split("\r\n")[0]}`));
        // The agent drops a 101 whose Upgrade is not its protocol: it must cross HAProxy as the relay sent it.
        if (!/\r\nupgrade: drydock-tunnel\/1\r\n/i.test(seen.slice(0, end + 2)))
          return socket.destroy(new Error(`tunnel to ${host}: no "Upgrade: drydock-tunnel/1" in the 101`));
        instance = /\r\nx-instance: ([^\r]+)/i.exec(seen)?.[1];
        seen = seen.slice(end + 4);
        socket.write(preface);
      }
      if (instance !== undefined && seen === preface) {
        clearTimeout(timer);
        socket.removeAllListeners("close");
        resolve({ instance, socket });
      }
    });
  });
}

async function owners(names) {
  const map = new Map();
  for (const name of names) map.set(name, (await get(8485, sessionHost(name))).instance);
  return map;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
async function until(what, limitMs, probe) {
  const since = Date.now();
  for (;;) {
    try {
      const value = await probe();
      if (value) return value;
    } catch {
      // not yet
    }
    if (Date.now() - since > limitMs) fail(`${what}: not within ${limitMs / 1000} s`);
    await sleep(100);
  }
}
const names = (prefix, count) => Array.from({ length: count }, (_, i) => `${prefix}${i + 1}`);

async function checks() {
  // Wait for HAProxy to have resolved and checked the replicas.
  await until("both servers behind :8484", 30_000, async () => {
    const seen = new Set();
    for (let i = 0; i < 8; i++) seen.add((await get(8484, `${address}:8484`)).instance);
    return seen.size === 2;
  });
  let round = 0;
  await until("both relays behind :8485", 30_000, async () => new Set((await owners(names(`w${++round}-`, 16))).values()).size === 2);

  const api = [];
  for (let i = 0; i < 20; i++) api.push(await get(8484, `${address}:8484`));
  const servers = new Set(api.map((answer) => answer.instance));
  if (api.some((answer) => answer.role !== "server") || servers.size !== 2) fail(`API answered by ${[...servers]}`);
  console.log(`ok  API: 20 requests on :8484 answered by both servers (${[...servers].join(", ")})`);

  const first = await owners(names("s", 30));
  for (let round = 0; round < 2; round++) {
    const again = await owners(names("s", 30));
    for (const [name, instance] of first)
      if (again.get(name) !== instance) fail(`${sessionHost(name)} went to ${again.get(name)}, before to ${instance}`);
  }
  const spread = new Map();
  for (const instance of first.values()) spread.set(instance, (spread.get(instance) ?? 0) + 1);
  if (spread.size !== 2) fail(`30 session hosts all on ${[...spread.keys()]}`);
  console.log(
    `ok  relay: 30 session hosts, 3 requests each, each host always on one relay; ` +
      `spread ${[...spread.entries()].map(([i, c]) => `${i}: ${c}`).join(", ")}`,
  );

  // One kept-alive connection asking for two sessions: each request goes to its own session's relay.
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const mixed = [];
  for (const name of ["s1", "s2", "s3", "s4", "s1"]) {
    mixed.push(
      await new Promise((resolve, reject) =>
        http
          .get({ host: address, port: 8485, headers: { host: sessionHost(name) }, agent }, (res) => {
            let body = "";
            res.on("data", (c) => (body += c));
            res.on("end", () => resolve([name, JSON.parse(body).instance]));
          })
          .on("error", reject),
      ),
    );
  }
  agent.destroy();
  for (const [name, instance] of mixed) if (first.get(name) !== instance) fail(`kept-alive ${name} went to ${instance}`);
  console.log("ok  relay: one kept-alive connection, requests for four sessions: each on its own session's relay");

  for (const name of ["s1", "s2", "s3", "s4", "s5", "s6"]) {
    const { instance, socket } = await dialTunnel(sessionHost(name));
    socket.destroy();
    if (instance !== first.get(name)) fail(`tunnel for ${name} reached ${instance}, its browsers ${first.get(name)}`);
  }
  console.log(
    "ok  relay: agent-style dials (GET /__drydock/tunnel, Upgrade: drydock-tunnel/1) got 101 from their session's " +
      "relay and carried an HTTP/2 preface both ways",
  );
}

async function failover() {
  const before = await owners(names("s", 40));
  const victim = before.get("s1");
  const moved = [...before].filter(([, instance]) => instance === victim).map(([name]) => name);
  const stayed = [...before].filter(([, instance]) => instance !== victim).map(([name]) => name);
  if (stayed.length === 0) fail(`all 40 session hosts on ${victim}`);
  const survivor = before.get(stayed[0]);
  const victimTunnel = await dialTunnel(sessionHost("s1"));
  const survivorTunnel = await dialTunnel(sessionHost(stayed[0]));
  let victimTunnelClosed;
  victimTunnel.socket.on("close", () => (victimTunnelClosed ??= Date.now()));

  const killed = Date.now();
  await get(8485, sessionHost("s1"), "/__exit");
  const redial = await until("s1's agent dialling again", 20_000, async () => {
    const { instance, socket } = await dialTunnel(sessionHost("s1"));
    socket.destroy();
    return instance !== victim && { instance, at: Date.now() };
  });
  await until("all of the lost relay's sessions answering elsewhere", 20_000, async () => {
    const now = await owners(moved);
    return [...now.values()].every((instance) => instance !== victim);
  });
  const allMoved = Date.now();
  const closedAfter = victimTunnelClosed ? `${((victimTunnelClosed - killed) / 1000).toFixed(1)} s` : "(still open!)";
  console.log(
    `ok  relay ${victim} ended: its tunnel closed after ${closedAfter}; ` +
      `s1's agent re-dialled onto ${redial.instance} ${((redial.at - killed) / 1000).toFixed(1)} s after; ` +
      `all ${moved.length} of its session hosts answered elsewhere after ${seconds(killed)}`,
  );
  if (!victimTunnelClosed) fail("the lost relay's tunnel was not closed");
  const during = await owners(stayed);
  for (const name of stayed) if (during.get(name) !== before.get(name)) fail(`${name} moved from the relay that stayed`);
  console.log(`ok  the other relay's ${stayed.length} session hosts stayed where they were`);

  // Swarm replaces the lost task (5 s restart delay); new hosts find it, the moved ones must not follow it.
  // Each look uses hosts never seen before: a host once asked for sticks to the relay that answered.
  let round = 0;
  const replacement = await until("the replacement relay taking new sessions", 60_000, async () => {
    const fresh = names(`r${++round}-`, 8);
    return [...(await owners(fresh)).values()].find((instance) => instance !== survivor && instance !== victim);
  });
  console.log(`ok  replacement relay ${replacement} in the balance ${seconds(killed)} after the loss (it takes new sessions)`);
  const after = await owners(moved);
  const followed = moved.filter((name) => after.get(name) !== survivor);
  if (followed.length) fail(`${followed.length} moved session hosts went on to the replacement: ${followed.join(" ")}`);
  const echo = await new Promise((resolve) => {
    survivorTunnel.socket.once("data", (chunk) => resolve(chunk.toString()));
    survivorTunnel.socket.write("still there?");
    setTimeout(() => resolve(undefined), 2000);
  });
  if (echo !== "still there?") fail("the other relay's tunnel did not survive");
  survivorTunnel.socket.destroy();
  console.log(
    `ok  the ${moved.length} moved session hosts stay on ${survivor} (stick table), where their agents are; ` +
      "the other relay's open tunnel carried on",
  );
}

(mode === "--failover" ? failover() : checks()).then(
  () => process.exit(0),
  (error) => fail(`${error.message} (after ${seconds(started)})`),
);
