import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, realpath, rm, symlink, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

import { tsImport } from "tsx/esm/api";
import { extract, list } from "tar";
import { afterEach, beforeEach, describe, expect, it } from "vitest";

import { packBundle } from "./pack.js";
import type { PackedBundle } from "./pack.js";

const require = createRequire(import.meta.url);
const repoRoot = join(dirname(fileURLToPath(import.meta.url)), "../../..");

let scratch: string;
beforeEach(async () => {
  scratch = await realpath(await mkdtemp(join(tmpdir(), "drydock-pack-test-")));
});
afterEach(async () => {
  await rm(scratch, { recursive: true, force: true });
});

async function writeFiles(root: string, files: Record<string, string>): Promise<void> {
  for (const [path, text] of Object.entries(files)) {
    await mkdir(dirname(join(root, path)), { recursive: true });
    await writeFile(join(root, path), text);
  }
}

/** Links a real installed package (resolved the way pnpm lays it out) into a fixture's node_modules. */
async function linkPackage(project: string, name: string, target?: string): Promise<void> {
  const real = target ?? (await realpath(dirname(require.resolve(`${name}/package.json`))));
  await mkdir(dirname(join(project, "node_modules", name)), { recursive: true });
  await symlink(real, join(project, "node_modules", name), "dir");
}

const zodVersion = (
  JSON.parse(await readFile(require.resolve("zod/package.json"), "utf8")) as { version: string }
).version;

/** wf.ts → ./lib/helper.ts → ./format.js (a .ts file), plus zod (linked) and a hand-written dual-format package. */
async function makeProject(dir: string): Promise<string> {
  await writeFiles(dir, {
    "package.json": JSON.stringify({ name: "fixture-project", private: true, type: "module" }),
    "wf.ts": [
      'import { z } from "zod";',
      'import fmt from "fmt-lib";',
      'import { shout } from "./lib/helper.ts";',
      "export const Name = z.string().min(1);",
      "export function greet(name: string): string {",
      "  return shout(Name.parse(name)) + fmt.suffix;",
      "}",
      "",
    ].join("\n"),
    "lib/helper.ts": [
      'import { exclaim } from "./format.js";',
      "export function shout(text: string): string {",
      "  return exclaim(text.toUpperCase());",
      "}",
      "",
    ].join("\n"),
    "lib/format.ts": "export const exclaim = (text: string): string => `${text}!`;\n",
    "unused.ts": "export const notImported = 1;\n",
    "node_modules/fmt-lib/package.json": JSON.stringify({
      name: "fmt-lib",
      version: "2.1.0",
      type: "module",
      main: "./dist/cjs/index.js",
    }),
    // Without this nested package.json, Node would load the CommonJS file below as ESM and fail.
    "node_modules/fmt-lib/dist/cjs/package.json": JSON.stringify({ type: "commonjs" }),
    "node_modules/fmt-lib/dist/cjs/index.js": 'module.exports = { suffix: " (fmt)" };\n',
    "node_modules/fmt-lib/dist/esm/index.js": 'export const suffix = " (esm)";\n',
    "node_modules/fmt-lib/README.md": "# fmt-lib\n",
  });
  await linkPackage(dir, "zod");
  return join(dir, "wf.ts");
}

async function listTarball(
  bundle: PackedBundle,
): Promise<{ path: string; mtime?: Date; uid?: number }[]> {
  const file = join(scratch, `listing-${bundle.sha256}.tgz`);
  await writeFile(file, bundle.tarball);
  const entries: { path: string; mtime?: Date; uid?: number }[] = [];
  await list({
    file,
    onReadEntry: (e) => entries.push({ path: e.path, mtime: e.mtime, uid: e.uid }),
  });
  return entries;
}

async function extractTo(bundle: PackedBundle, name: string): Promise<string> {
  const file = join(scratch, `${name}.tgz`);
  const dest = join(scratch, name);
  await writeFile(file, bundle.tarball);
  await mkdir(dest, { recursive: true });
  await extract({ file, cwd: dest });
  return dest;
}

describe("packBundle", () => {
  it("packs the entry, the local files it imports and exactly the npm files it loads", async () => {
    const entry = await makeProject(join(scratch, "project"));
    const progress: string[] = [];
    const bundle = await packBundle(entry, { onProgress: (m) => progress.push(m) });

    expect(bundle.root).toBe(join(scratch, "project"));
    expect(bundle.manifest).toEqual({
      formatVersion: 1,
      entry: "wf.ts",
      sources: ["lib/format.ts", "lib/helper.ts", "wf.ts"],
      packages: { "fmt-lib": "2.1.0", zod: zodVersion },
      compiled: "wf.drydock.mjs",
    });
    expect(bundle.size).toBe(bundle.tarball.length);
    expect(bundle.sha256).toMatch(/^[a-f0-9]{64}$/);
    expect(progress.join("\n")).toMatch(/packing 3 source file\(s\) and 2 npm package\(s\)/);

    const entries = await listTarball(bundle);
    const paths = entries.map((e) => e.path);
    expect(paths).toEqual([...paths].sort());
    expect(paths).toEqual(
      expect.arrayContaining([
        "drydock-bundle.json",
        "package.json",
        "wf.ts",
        "lib/helper.ts",
        "lib/format.ts",
        "node_modules/zod/package.json",
      ]),
    );
    expect(paths.filter((p) => p.startsWith("node_modules/fmt-lib/"))).toEqual([
      "node_modules/fmt-lib/dist/cjs/index.js",
      "node_modules/fmt-lib/dist/cjs/package.json",
      "node_modules/fmt-lib/package.json",
    ]);
    expect(paths.some((p) => p.startsWith("node_modules/zod/") && p.endsWith(".js"))).toBe(true);
    expect(paths.some((p) => p.endsWith(".d.ts"))).toBe(false);
    expect(paths).not.toContain("unused.ts");
    expect(entries.every((e) => e.mtime?.getTime() === 0)).toBe(true);
    // gzip magic, and the OS byte fixed so the sha256 does not depend on where the code was packed.
    expect([...bundle.tarball.subarray(0, 2)]).toEqual([0x1f, 0x8b]);
    expect(bundle.tarball[9]).toBe(255);

    const dest = await extractTo(bundle, "listing");
    expect(JSON.parse(await readFile(join(dest, "package.json"), "utf8"))).toEqual({
      name: "drydock-bundle",
      private: true,
      type: "module",
    });
    expect(await readFile(join(dest, "lib/helper.ts"), "utf8")).toBe(
      await readFile(join(scratch, "project/lib/helper.ts"), "utf8"),
    );
    expect(JSON.parse(await readFile(join(dest, "drydock-bundle.json"), "utf8"))).toEqual(
      bundle.manifest,
    );
  });

  it("gives an extracted bundle that runs with tsx after the project is gone", async () => {
    const entry = await makeProject(join(scratch, "project"));
    const bundle = await packBundle(entry);
    const dest = await extractTo(bundle, "extracted");
    await rm(join(scratch, "project"), { recursive: true, force: true });

    const mod = (await tsImport(
      pathToFileURL(join(dest, bundle.manifest.entry)).href,
      import.meta.url,
    )) as {
      greet: (name: string) => string;
    };
    expect(mod.greet("ada")).toBe("ADA! (fmt)");
    expect(() => mod.greet("")).toThrow();
  });

  it("ships the entry and its local files compiled to one module beside it, which Node imports without tsx; packages stay imports", async () => {
    const entry = await makeProject(join(scratch, "project"));
    await writeFile(
      join(scratch, "project/lib/format.ts"),
      "export const exclaim = (text: string): string => `${text}!`;\n" +
        'export function fails(): never {\n  throw new RangeError("from the source");\n}\n',
    );
    await writeFile(
      entry,
      `${await readFile(entry, "utf8")}export { fails } from "./lib/format.ts";\nexport const here = import.meta.url;\n`,
    );
    const bundle = await packBundle(entry);
    expect(bundle.manifest.compiled).toBe("wf.drydock.mjs");
    const dest = await extractTo(bundle, "extracted");
    await rm(join(scratch, "project"), { recursive: true, force: true });

    const text = await readFile(join(dest, "wf.drydock.mjs"), "utf8");
    expect(text).toMatch(/from "zod"/);
    expect(text).not.toMatch(/ZodError/);
    // Plain import(): what a task that opens no IDE runs, with Node's source maps (as the agent enables them).
    process.setSourceMapsEnabled(true);
    const mod = (await import(pathToFileURL(join(dest, "wf.drydock.mjs")).href)) as {
      greet: (name: string) => string;
      fails: () => never;
      here: string;
    };
    expect(mod.greet("ada")).toBe("ADA! (fmt)");
    expect(() => mod.greet("")).toThrow();
    // The entry's folder, as under tsx; a throw names the source file and line it came from.
    expect(dirname(fileURLToPath(mod.here))).toBe(dest);
    expect(() => mod.fails()).toThrow(RangeError);
    try {
      mod.fails();
    } catch (error) {
      expect((error as Error).stack).toContain(`fails (${join(dest, "lib/format.ts")}:3:`);
    }
  });

  it("compiles nothing where the compiled module could not stand in for the sources", async () => {
    // A CommonJS package: Node and tsx load its sources as CommonJS.
    await writeFiles(join(scratch, "cjs"), {
      "package.json": JSON.stringify({ name: "cjs-project", private: true, type: "commonjs" }),
      "wf.ts": "export const dir = __dirname;\n",
    });
    expect((await packBundle(join(scratch, "cjs/wf.ts"))).manifest.compiled).toBeUndefined();
    // A source that calls require().
    await writeFiles(join(scratch, "req"), {
      "package.json": JSON.stringify({ name: "req-project", private: true, type: "module" }),
      "wf.ts": 'import { old } from "./old.cjs";\nexport const value = old;\n',
      "old.cjs": 'exports.old = require("node:os").EOL;\n',
    });
    const required = await packBundle(join(scratch, "req/wf.ts"));
    expect(required.manifest.compiled).toBeUndefined();
    expect((await listTarball(required)).map((e) => e.path)).not.toContain("wf.drydock.mjs");
    // A source of that name already.
    await writeFiles(join(scratch, "taken"), {
      "package.json": JSON.stringify({ name: "taken-project", private: true, type: "module" }),
      "wf.ts": 'export { x } from "./wf.drydock.mjs";\n',
      "wf.drydock.mjs": "export const x = 1;\n",
    });
    expect((await packBundle(join(scratch, "taken/wf.ts"))).manifest.compiled).toBeUndefined();
  });

  it("gives the same sha256 for the same code, wherever it lives, and another one when a source changes", async () => {
    const first = await packBundle(await makeProject(join(scratch, "a")));
    const again = await packBundle(join(scratch, "a/wf.ts"));
    const elsewhere = await packBundle(await makeProject(join(scratch, "b/nested")));
    expect(again.sha256).toBe(first.sha256);
    expect(again.tarball.equals(first.tarball)).toBe(true);
    expect(elsewhere.sha256).toBe(first.sha256);

    await writeFile(
      join(scratch, "a/lib/format.ts"),
      "export const exclaim = (text: string): string => `${text}?`;\n",
    );
    const changed = await packBundle(join(scratch, "a/wf.ts"));
    expect(changed.sha256).not.toBe(first.sha256);
  });

  it("keeps a local file imported by relative path from outside the entry's package", async () => {
    await writeFiles(join(scratch, "mono"), {
      "package.json": JSON.stringify({ name: "mono", private: true }),
      "app/package.json": JSON.stringify({ name: "app", type: "module" }),
      "app/wf.ts": 'import { twice } from "../shared/util.ts";\nexport const four = twice(2);\n',
      "shared/util.ts": "export const twice = (n: number): number => n * 2;\n",
    });
    const bundle = await packBundle(join(scratch, "mono/app/wf.ts"));
    expect(bundle.root).toBe(join(scratch, "mono"));
    expect(bundle.manifest).toMatchObject({
      entry: "app/wf.ts",
      sources: ["app/wf.ts", "shared/util.ts"],
      packages: {},
    });

    const dest = await extractTo(bundle, "mono-extracted");
    await rm(join(scratch, "mono"), { recursive: true, force: true });
    const mod = (await tsImport(pathToFileURL(join(dest, "app/wf.ts")).href, import.meta.url)) as {
      four: number;
    };
    expect(mod.four).toBe(4);
  });

  it("ships a workspace package that pnpm links outside node_modules", async () => {
    const contracts = join(repoRoot, "packages/contracts");
    if (!existsSync(join(contracts, "dist/index.js")))
      throw new Error("build @drydock/contracts first (pnpm build)");
    const project = join(scratch, "ws");
    await writeFiles(project, {
      "package.json": JSON.stringify({ name: "ws", type: "module" }),
      "wf.ts":
        'import { Sha256 } from "@drydock/contracts";\nexport const ok = (s: string): boolean => Sha256.safeParse(s).success;\n',
    });
    await linkPackage(project, "@drydock/contracts", contracts);
    const bundle = await packBundle(join(project, "wf.ts"));
    expect(bundle.manifest.packages).toEqual({ "@drydock/contracts": "0.1.0", zod: zodVersion });
    const paths = (await listTarball(bundle)).map((e) => e.path);
    expect(paths).toContain("node_modules/@drydock/contracts/dist/index.js");
    expect(paths).toContain("node_modules/@drydock/contracts/dist/index.js.map");
    expect(paths.some((p) => p.startsWith("node_modules/@drydock/contracts/src/"))).toBe(false);

    const dest = await extractTo(bundle, "ws-extracted");
    await rm(project, { recursive: true, force: true });
    const mod = (await tsImport(pathToFileURL(join(dest, "wf.ts")).href, import.meta.url)) as {
      ok: (s: string) => boolean;
    };
    expect(mod.ok("a".repeat(64))).toBe(true);
    expect(mod.ok("nope")).toBe(false);
  });

  it("packs examples/hello/workflow.ts", async () => {
    const bundle = await packBundle(join(repoRoot, "examples/hello/workflow.ts"));
    expect(bundle.manifest.entry).toBe("workflow.ts");
    expect(bundle.manifest.sources).toContain("workflow.ts");
    expect(Object.keys(bundle.manifest.packages)).toEqual(
      expect.arrayContaining(["@drydock/sdk", "zod"]),
    );
  });

  describe("with ImageSpec packages", () => {
    /** A task file importing fmt-lib (installed), is-number and @acme/tools/deep (neither installed here). */
    async function makeImageProject(dir: string): Promise<string> {
      await writeFiles(dir, {
        "package.json": JSON.stringify({ name: "image-project", private: true, type: "module" }),
        "wf.ts": [
          'import isNumber from "is-number";',
          'import { deep } from "@acme/tools/deep";',
          'import fmt from "fmt-lib";',
          "export const check = (x: unknown): string => `${isNumber(x)} ${deep}${fmt.suffix}`;",
          "",
        ].join("\n"),
        "node_modules/fmt-lib/package.json": JSON.stringify({
          name: "fmt-lib",
          version: "2.1.0",
          main: "index.js",
        }),
        "node_modules/fmt-lib/index.js": 'module.exports = { suffix: " (fmt)" };\n',
      });
      return join(dir, "wf.ts");
    }

    it("leaves an image package that is not installed here to the image: imported, not packed", async () => {
      const entry = await makeImageProject(join(scratch, "image"));
      const progress: string[] = [];
      const bundle = await packBundle(entry, {
        imagePackages: ["is-number", "@acme/tools", "fmt-lib"],
        onProgress: (m) => progress.push(m),
      });

      // fmt-lib is installed, so it is packed as without an ImageSpec; the manifest says nothing of the others.
      expect(bundle.manifest).toEqual({
        formatVersion: 1,
        entry: "wf.ts",
        sources: ["wf.ts"],
        packages: { "fmt-lib": "2.1.0" },
        compiled: "wf.drydock.mjs",
      });
      expect(progress).toContain(
        "leaving @acme/tools, is-number to the task image (not installed here)",
      );
      const paths = (await listTarball(bundle)).map((e) => e.path);
      expect(paths.filter((p) => p.startsWith("node_modules/"))).toEqual([
        "node_modules/fmt-lib/index.js",
        "node_modules/fmt-lib/package.json",
      ]);

      // Where the image provides them (a node_modules above the bundle, as /opt/drydock/node_modules is), the bundle runs.
      await writeFiles(join(scratch, "image-extracted"), {
        "node_modules/is-number/package.json": JSON.stringify({
          name: "is-number",
          version: "7.0.0",
          main: "index.js",
        }),
        "node_modules/is-number/index.js": "module.exports = (x) => typeof x === 'number';\n",
        "node_modules/@acme/tools/package.json": JSON.stringify({
          name: "@acme/tools",
          version: "1.0.0",
          type: "module",
          exports: { "./deep": "./deep.js" },
        }),
        "node_modules/@acme/tools/deep.js": 'export const deep = "deep";\n',
      });
      const dest = await extractTo(bundle, "image-extracted/bundle");
      await rm(join(scratch, "image"), { recursive: true, force: true });
      const mod = (await tsImport(pathToFileURL(join(dest, "wf.ts")).href, import.meta.url)) as {
        check: (x: unknown) => string;
      };
      expect(mod.check(3)).toBe("true deep (fmt)");
    });

    it("packs an image package installed in a folder above the entry's", async () => {
      await writeFiles(join(scratch, "above"), {
        "node_modules/is-number/package.json": JSON.stringify({
          name: "is-number",
          version: "7.0.0",
          main: "index.js",
        }),
        "node_modules/is-number/index.js": "module.exports = (x) => typeof x === 'number';\n",
        "app/package.json": JSON.stringify({ name: "app", type: "module" }),
        "app/wf.ts": 'import isNumber from "is-number";\nexport const yes = isNumber(1);\n',
      });
      const bundle = await packBundle(join(scratch, "above/app/wf.ts"), {
        imagePackages: ["is-number"],
      });
      expect(bundle.manifest.packages).toEqual({ "is-number": "7.0.0" });
    });

    it("still fails on a package that is neither installed nor named by an ImageSpec", async () => {
      const entry = await makeImageProject(join(scratch, "unknown"));
      await expect(packBundle(entry, { imagePackages: ["@acme/tools"] })).rejects.toThrow(
        /wf\.ts:1:\d+: Could not resolve "is-number"/,
      );
      await expect(packBundle(entry)).rejects.toThrow(/Could not resolve "is-number"/);
    });
  });

  it("quotes esbuild's first error with file and line", async () => {
    await writeFiles(join(scratch, "broken"), {
      "package.json": JSON.stringify({ type: "module" }),
      "wf.ts":
        'export const a = 1;\nimport { nope } from "./missing.js";\nexport const b = nope;\n',
    });
    await expect(packBundle(join(scratch, "broken/wf.ts"))).rejects.toThrow(
      /wf\.ts:2:\d+: Could not resolve "\.\/missing\.js"/,
    );
  });

  it("fails clearly for a file that does not exist", async () => {
    await expect(packBundle(join(scratch, "nowhere.ts"))).rejects.toThrow(
      /nowhere\.ts: the file does not exist/,
    );
  });

  it("refuses two versions of one package, naming both and their importers", async () => {
    await writeFiles(join(scratch, "dup"), {
      "package.json": JSON.stringify({ type: "module" }),
      "wf.ts": 'import a from "a";\nimport b from "b";\nexport default a + b;\n',
      "node_modules/a/package.json": JSON.stringify({
        name: "a",
        version: "1.0.0",
        main: "index.js",
      }),
      "node_modules/a/index.js": 'module.exports = "a" + require("b");\n',
      "node_modules/a/node_modules/b/package.json": JSON.stringify({
        name: "b",
        version: "2.0.0",
        main: "index.js",
      }),
      "node_modules/a/node_modules/b/index.js": 'module.exports = "b2";\n',
      "node_modules/b/package.json": JSON.stringify({
        name: "b",
        version: "1.0.0",
        main: "index.js",
      }),
      "node_modules/b/index.js": 'module.exports = "b1";\n',
    });
    await expect(packBundle(join(scratch, "dup/wf.ts"))).rejects.toThrow(
      /two versions of "b": (2\.0\.0 \(imported by a@1\.0\.0\) and 1\.0\.0 \(imported by wf\.ts\)|1\.0\.0 \(imported by wf\.ts\) and 2\.0\.0 \(imported by a@1\.0\.0\))/,
    );
  });
});
