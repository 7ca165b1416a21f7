import { once } from "node:events";
import { createHash } from "node:crypto";
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import yazl from "yazl";

import { findCodeServer } from "./code-server.js";
import { defaultIdeDir } from "./runtime.js";
import { installExtensions, listExtensions } from "./extensions.js";

/** A real, minimal .vsix: what `vsce package` writes for an extension with no code. */
async function buildVsix(publisher: string, name: string, version = "1.0.0"): Promise<Buffer> {
  const zip = new yazl.ZipFile();
  zip.addBuffer(
    Buffer.from(`<?xml version="1.0" encoding="utf-8"?>
<PackageManifest Version="2.0.0" xmlns="http://schemas.microsoft.com/developer/vsx-schema/2011">
  <Metadata>
    <Identity Language="en-US" Id="${name}" Version="${version}" Publisher="${publisher}" />
    <DisplayName>${name}</DisplayName>
    <Description xml:space="preserve">A test extension</Description>
    <Properties><Property Id="Microsoft.VisualStudio.Code.Engine" Value="^1.80.0" /></Properties>
  </Metadata>
  <Installation><InstallationTarget Id="Microsoft.VisualStudio.Code" /></Installation>
  <Dependencies />
  <Assets><Asset Type="Microsoft.VisualStudio.Code.Manifest" Path="extension/package.json" Addressable="true" /></Assets>
</PackageManifest>
`),
    "extension.vsixmanifest",
  );
  zip.addBuffer(
    Buffer.from(
      `<?xml version="1.0" encoding="utf-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">` +
        `<Default Extension=".json" ContentType="application/json" /><Default Extension=".vsixmanifest" ContentType="text/xml" /></Types>`,
    ),
    "[Content_Types].xml",
  );
  zip.addBuffer(
    Buffer.from(JSON.stringify({ name, publisher, version, engines: { vscode: "^1.80.0" } })),
    "extension/package.json",
  );
  zip.end();
  const chunks: Buffer[] = [];
  for await (const chunk of zip.outputStream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

let dir: string;
let server: Server;
let base: string;
let bin: string;
const requests = new Map<string, number>();
const env = { PATH: process.env.PATH };

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "drydock-extensions-"));
  const hello = await buildVsix("drydock-test", "hello");
  const files: Record<string, { body: Buffer; type: string }> = {
    "/hello.vsix": { body: hello, type: "application/octet-stream" },
    // Starts like a zip, but its central directory is cut off: only code-server can tell.
    "/corrupt.vsix": { body: hello.subarray(0, 300), type: "application/octet-stream" },
    "/login.vsix": {
      body: Buffer.from("<!doctype html><title>Sign in</title>"),
      type: "text/html",
    },
  };
  server = createServer((req, res) => {
    requests.set(req.url ?? "", (requests.get(req.url ?? "") ?? 0) + 1);
    if (req.url === "/hang.vsix") return; // never answers
    const file = files[req.url ?? ""];
    if (!file) return res.writeHead(404).end("nope");
    res
      .writeHead(200, { "content-type": file.type, "content-length": file.body.length })
      .end(file.body);
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  bin = await findCodeServer({ ideDir: defaultIdeDir(process.env) });
}, 60_000);

afterAll(async () => {
  server?.closeAllConnections();
  server?.close();
  await rm(dir, { recursive: true, force: true });
});

let firstSet = "";

const profile = async (name: string) => {
  await mkdir(join(dir, name), { recursive: true });
  return { userDataDir: join(dir, name, "data") };
};

describe("extensions", () => {
  it("downloads a .vsix URL into the cache, installs it, and code-server lists it", async () => {
    const progress: string[] = [];
    const url = `${base}/hello.vsix`;
    const { userDataDir } = await profile("s1");
    const result = await installExtensions({
      bin,
      extensions: [url],
      cacheDir: join(dir, "cache"),
      userDataDir,
      env,
      onProgress: (l) => progress.push(l),
    });

    expect(result).toMatchObject({ installed: ["drydock-test.hello"], problems: [] });
    expect(result.extensionsDir).toMatch(
      new RegExp(`^${join(dir, "cache", "extension-sets")}/[0-9a-f]{32}$`),
    );
    expect(
      await listExtensions(bin, result.extensionsDir ?? "", { ...env, HOME: join(dir, "s1") }),
    ).toEqual(["drydock-test.hello"]);
    firstSet = result.extensionsDir ?? "";
    expect(progress).toContain(`downloading ${url}`);
    expect(progress).toContain(`installed ${url}`);
    // Cached under the URL's sha256, complete (no partial file left beside it).
    const sha = createHash("sha256").update(url).digest("hex");
    expect(await readdir(join(dir, "cache", "extensions"))).toEqual([`${sha}.vsix`]);
  }, 60_000);

  it("a later session installs from the cache without asking the server again", async () => {
    const url = `${base}/hello.vsix`;
    const before = requests.get("/hello.vsix");
    expect(before).toBe(1);
    const progress: string[] = [];
    const { userDataDir } = await profile("s2");
    const result = await installExtensions({
      bin,
      extensions: [url],
      cacheDir: join(dir, "cache"),
      userDataDir,
      env,
      onProgress: (l) => progress.push(l),
    });

    expect(result.installed).toEqual(["drydock-test.hello"]);
    expect(requests.get("/hello.vsix")).toBe(1);
    expect(progress).toContain(`using cached ${url}`);
    // The same set of files is installed once per machine: this session uses the first one's directory.
    expect(result.extensionsDir).toBe(firstSet);
    expect(progress).toContain("using installed extensions: drydock-test.hello");
    expect(progress.some((l) => l.startsWith("installing"))).toBe(false);
  }, 60_000);

  it("a session whose own cache is empty copies the set from a shared cache, reads its downloads there, and installs nothing", async () => {
    const url = `${base}/hello.vsix`;
    const progress: string[] = [];
    const { userDataDir } = await profile("s3");
    const own = join(dir, "own-cache");
    const result = await installExtensions({
      bin,
      extensions: [url],
      cacheDir: own,
      sharedCacheDir: join(dir, "cache"),
      userDataDir,
      env,
      onProgress: (l) => progress.push(l),
    });

    expect(result).toMatchObject({ installed: ["drydock-test.hello"], problems: [] });
    // A copy of its own, which code-server may write to; the download was read where the first session left it.
    expect(result.extensionsDir).toBe(join(own, "extension-sets", basename(firstSet)));
    expect(requests.get("/hello.vsix")).toBe(1);
    expect(progress).toEqual([
      `using cached ${url}`,
      "using the machine's installed extensions: drydock-test.hello",
    ]);
    expect(
      await listExtensions(bin, result.extensionsDir ?? "", { ...env, HOME: join(dir, "s3") }),
    ).toEqual(["drydock-test.hello"]);
    expect(await readdir(join(own, "extension-sets"))).toEqual([basename(firstSet)]);
  }, 60_000);

  it("reports a 404, a non-zip body, a corrupt .vsix and a missing path by name, and installs the good ones in one call", async () => {
    // A shim in front of the real code-server counts its invocations.
    const calls = join(dir, "calls.log");
    const shim = join(dir, "code-server-shim");
    await writeFile(shim, `#!/bin/sh\necho "$*" >> "${calls}"\nexec "${bin}" "$@"\n`);
    await chmod(shim, 0o755);
    const local = join(dir, "local.vsix");
    await writeFile(local, await buildVsix("drydock-test", "local"));
    const missing = join(dir, "nowhere", "missing.vsix");
    const [notFound, html, corrupt, good] = [
      "/gone.vsix",
      "/login.vsix",
      "/corrupt.vsix",
      "/hello.vsix",
    ].map((p) => `${base}${p}`);
    const { userDataDir } = await profile("s3");
    const progress: string[] = [];

    const result = await installExtensions({
      bin: shim,
      extensions: [notFound!, html!, corrupt!, good!, local, missing],
      cacheDir: join(dir, "cache"),
      userDataDir,
      env,
      onProgress: (l) => progress.push(l),
    });

    expect(result.installed.sort()).toEqual(["drydock-test.hello", "drydock-test.local"]);
    const problems = Object.fromEntries(result.problems.map((p) => [p.extension, p.message]));
    expect(Object.keys(problems).sort()).toEqual([corrupt, html, notFound, missing].sort());
    expect(problems[notFound!]).toBe("download failed: 404 Not Found");
    expect(problems[html!]).toMatch(/^download failed: not a \.vsix \(zip\) file: text\/html/);
    expect(problems[corrupt!]).toMatch(
      /^code-server could not install it: .*(not a zip file|truncated)/,
    );
    expect(problems[missing]).toBe(`no such file: ${missing}`);
    expect(
      progress.some((l) => l.startsWith(`extension ${corrupt}: code-server could not install it`)),
    ).toBe(true);

    const installCalls = (await readFile(calls, "utf8"))
      .split("\n")
      .filter((l) => l.includes("--install-extension"));
    expect(installCalls).toHaveLength(1);
    expect(installCalls[0]!.match(/--install-extension/g)).toHaveLength(3);
    // Only the good download stays cached: the rejected ones will be fetched afresh next time.
    expect((await readdir(join(dir, "cache", "extensions"))).sort()).toEqual([
      `${createHash("sha256").update(good!).digest("hex")}.vsix`,
    ]);

    // The same set again: no install call, and the corrupt file's failure is reported again, by its name here.
    const again = await installExtensions({
      bin: shim,
      extensions: [corrupt!, good!, local],
      cacheDir: join(dir, "cache"),
      userDataDir,
      env,
    });
    expect(again.extensionsDir).toBe(result.extensionsDir);
    expect(again.installed.sort()).toEqual(["drydock-test.hello", "drydock-test.local"]);
    expect(again.problems).toEqual([{ extension: corrupt, message: problems[corrupt!] }]);
    expect(
      (await readFile(calls, "utf8")).split("\n").filter((l) => l.includes("--install-extension")),
    ).toHaveLength(1);
    // No partial set is left behind.
    expect(
      (await readdir(join(dir, "cache", "extension-sets"))).filter((n) => n.endsWith(".partial")),
    ).toEqual([]);
  }, 60_000);

  it("gives up on a download that does not answer in time", async () => {
    const url = `${base}/hang.vsix`;
    const { userDataDir } = await profile("s4");
    const started = Date.now();
    const result = await installExtensions({
      bin,
      extensions: [url],
      cacheDir: join(dir, "cache"),
      userDataDir,
      env,
      downloadTimeoutMs: 500,
    });
    expect(result.problems).toEqual([
      { extension: url, message: "download timed out after 500 ms" },
    ]);
    expect(Date.now() - started).toBeLessThan(15_000);
  }, 30_000);

  it("throws only on misuse", async () => {
    const { userDataDir } = await profile("s5");
    await expect(
      installExtensions({ bin: "", extensions: [], cacheDir: dir, userDataDir, env }),
    ).rejects.toThrow(TypeError);
    await expect(
      installExtensions({ bin, extensions: [""], cacheDir: dir, userDataDir, env }),
    ).rejects.toThrow(TypeError);
  });
});
