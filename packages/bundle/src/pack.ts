/**
 * Packs a workflow file into a code bundle: the file and the local files it imports, kept as the author
 * wrote them, plus the files of its npm dependencies that it really loads, laid out so that Node (with
 * tsx for the TypeScript sources) can import the entry from the extracted bundle anywhere.
 *
 * esbuild discovers the import graph (its metafile) and compiles the entry with its local files into one
 * module shipped beside them (`compileEntry`); the sources themselves are shipped as written.
 */
import { access, readFile, realpath, stat } from "node:fs/promises";
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from "node:path";

import type { BundleManifest } from "@drydock/contracts";
import { BUNDLE_MANIFEST_FILE } from "@drydock/contracts";
import { build } from "esbuild";
import type { Message, Metafile, Plugin } from "esbuild";

import type { BundleContent } from "./tarball.js";
import { comparePaths as compare, sha256Hex, writeBundleTarball } from "./tarball.js";

export interface PackOptions {
  /** Called with a short human-readable line for each step (the CLI shows it as progress). */
  onProgress?: (message: string) => void;
  /**
   * Names of the packages the tasks' ImageSpecs install (`is-number`, `@scope/x`; no versions). Those not
   * installed here are left to the image: imported but not packed. Installed ones are packed as usual.
   */
  imagePackages?: readonly string[];
}

export interface PackedBundle {
  /** The gzip'd tar: byte-for-byte the same for the same code, so its sha256 identifies the code. */
  tarball: Buffer;
  sha256: string;
  size: number;
  manifest: BundleManifest;
  /** The directory on disk that became the bundle root (the common ancestor of the sources). */
  root: string;
}

interface PackageJsonInfo {
  dir: string;
  json: Record<string, unknown>;
}

interface PackageUse {
  name: string;
  version: string;
  root: string;
  /** Files of the package esbuild loaded: path inside the package → where it is on disk. */
  files: Map<string, { file: string; root: string }>;
}

interface ImportEdge {
  from: string;
  to: string;
  original: string;
}

const NODE_MODULES = `${sep}node_modules${sep}`;
const SOURCE_MAP_SUFFIXES = [".js", ".mjs", ".cjs"];

/**
 * Packs `entryFile` into a reproducible bundle.
 * @example const { tarball, sha256, manifest } = await packBundle("examples/hello/workflow.ts");
 */
export async function packBundle(
  entryFile: string,
  options: PackOptions = {},
): Promise<PackedBundle> {
  const progress = options.onProgress ?? (() => undefined);
  const entry = await realEntryPath(entryFile);
  const packageJsons = new PackageJsonReader();

  const leftToImage = await packagesNotInstalled(dirname(entry), options.imagePackages ?? []);
  if (leftToImage.length > 0)
    progress(`leaving ${leftToImage.join(", ")} to the task image (not installed here)`);
  progress(`resolving the imports of ${entryFile}`);
  const { files, edges } = await discoverImportGraph(entry, leftToImage);

  const entryPackage = await packageJsons.nearest(dirname(entry));
  const sources = await findSources(entry, files, edges, entryPackage, packageJsons);
  const root = commonAncestor([...sources].map((f) => dirname(f)));
  const packages = await groupPackageFiles(files, sources, edges, root, packageJsons);

  const contents = new Map<string, BundleContent>();
  for (const file of sources) contents.set(toPosix(relative(root, file)), { file });
  for (const pkg of packages.values()) {
    const base = `node_modules/${pkg.name}`;
    contents.set(`${base}/package.json`, { file: join(pkg.root, "package.json") });
    for (const { file, root: pkgRoot } of pkg.files.values()) {
      const add = (abs: string) =>
        contents.set(`${base}/${toPosix(relative(pkgRoot, abs))}`, { file: abs });
      add(file);
      for (const nested of await packageJsons.between(dirname(file), pkgRoot)) add(nested);
      const map = await sourceMapOf(file);
      if (map) add(map);
    }
  }

  if (contents.has(BUNDLE_MANIFEST_FILE)) {
    throw new Error(
      `cannot pack ${entryFile}: a source file is named ${BUNDLE_MANIFEST_FILE}, which the bundle reserves`,
    );
  }
  // The package.json the bundle ships: the author's when a source imports it, else one made for it.
  const authorsPackageJson = contents.has("package.json");
  const shippedPackageJson = authorsPackageJson
    ? ((await packageJsons.read(root)) ?? {})
    : bundlePackageJson(entryPackage, root);
  if (!authorsPackageJson)
    contents.set("package.json", { data: `${JSON.stringify(shippedPackageJson, null, 2)}\n` });
  const compiled = await compileEntry(entry, root, shippedPackageJson, new Set(contents.keys()));
  const manifest: BundleManifest = {
    formatVersion: 1,
    entry: toPosix(relative(root, entry)),
    sources: [...sources].map((f) => toPosix(relative(root, f))).sort(),
    packages: Object.fromEntries(
      [...packages.values()]
        .map((p): [string, string] => [p.name, p.version])
        .sort(([a], [b]) => compare(a, b)),
    ),
    ...(compiled ? { compiled: compiled.path } : {}),
  };
  if (compiled) contents.set(compiled.path, { data: compiled.text });
  contents.set(BUNDLE_MANIFEST_FILE, { data: manifestText(manifest) });

  const packageList = Object.entries(manifest.packages).map(([n, v]) => `${n}@${v}`);
  progress(
    `packing ${manifest.sources.length} source file(s)` +
      (packageList.length > 0
        ? ` and ${packageList.length} npm package(s): ${packageList.join(", ")}`
        : ""),
  );
  const tarball = await writeBundleTarball(contents);
  const sha256 = sha256Hex(tarball);
  progress(`bundle ready: ${formatSize(tarball.length)}, sha256 ${sha256.slice(0, 12)}…`);
  return { tarball, sha256, size: tarball.length, manifest, root };
}

async function realEntryPath(entryFile: string): Promise<string> {
  try {
    return await realpath(resolve(entryFile));
  } catch (error) {
    throw new Error(`cannot pack ${entryFile}: the file does not exist`, { cause: error });
  }
}

/**
 * The packages among `names` with no `node_modules/<name>` directory in `startDir` or above it, sorted: the
 * ImageSpec packages that only the task image will have.
 */
async function packagesNotInstalled(startDir: string, names: readonly string[]): Promise<string[]> {
  const missing: string[] = [];
  for (const name of new Set(names)) {
    let found = false;
    for (let dir = startDir; !found; dir = dirname(dir)) {
      found = await stat(join(dir, "node_modules", name)).then(
        (s) => s.isDirectory(),
        () => false,
      );
      if (dirname(dir) === dir) break;
    }
    if (!found) missing.push(name);
  }
  return missing.sort(compare);
}

/**
 * Runs esbuild (writing nothing) and returns every file it loaded and every import between them. Imports of
 * `external` packages (and their subpaths) are not followed.
 */
async function discoverImportGraph(
  entry: string,
  external: string[],
): Promise<{ files: Set<string>; edges: ImportEdge[] }> {
  const workingDir = dirname(entry);
  let metafile: Metafile;
  try {
    const result = await build({
      entryPoints: [entry],
      bundle: true,
      write: false,
      metafile: true,
      platform: "node",
      format: "esm",
      logLevel: "silent",
      absWorkingDir: workingDir,
      outdir: join(workingDir, ".drydock-pack"),
      // Resolve as Node will at run time: no "module" condition, no "module" main field.
      conditions: [],
      mainFields: ["main"],
      loader: { ".node": "file" },
      external,
    });
    metafile = result.metafile;
  } catch (error) {
    throw new Error(`cannot pack ${entry}: ${describeBuildFailure(error)}`, { cause: error });
  }

  const toAbsolute = (key: string): string | undefined =>
    // Keys of virtual modules carry a namespace prefix (`ns:path`); only real files are shipped.
    /^[a-z][a-z0-9-]*:/i.test(key) && !isAbsolute(key) ? undefined : resolve(workingDir, key);
  const files = new Set<string>();
  const edges: ImportEdge[] = [];
  for (const [key, input] of Object.entries(metafile.inputs)) {
    const from = toAbsolute(key);
    if (!from) continue;
    files.add(from);
    for (const imported of input.imports) {
      if (imported.external) continue;
      const to = toAbsolute(imported.path);
      if (to) edges.push({ from, to, original: imported.original ?? imported.path });
    }
  }
  return { files, edges };
}

/** What `compileEntry` writes beside an entry `flows/train.ts`: `flows/train.drydock.mjs`. */
const COMPILED_SUFFIX = ".drydock.mjs";

/**
 * The entry and the local files it imports, compiled to one ES module beside it (`manifest.compiled`), so that
 * an attempt that neither pauses nor opens an IDE imports plain JavaScript: no TypeScript loader thread and no
 * compile in each agent (a third of a cold agent's CPU). Packages stay imports, resolved by Node from the
 * bundle's node_modules as before; the author's tsconfig is not read, as tsx in the agent does not read it;
 * names are kept and the source map is inline, so stack traces and `fn.name` read as under tsx. It sits in the
 * entry's folder, so the entry's `import.meta.url` names the same folder. Only files under `root` are read (a
 * fork is compiled on the server: an edit importing `/etc/…` compiles nothing).
 *
 * Undefined, and attempts use tsx on the sources as they always may, where it could not stand in for them: a
 * bundle whose package.json (`packageJson`, the one it ships) is not an ES module's (tsx would load the sources
 * as CommonJS, with `__dirname`) or maps subpath imports (`#lib/x`, resolved by Node at run time), a CommonJS
 * entry, a source that calls require(), or a file of that name among `taken`. Its bytes depend only on the
 * files under `root`, so a fork compiles to what packing the edited project gives.
 */
export async function compileEntry(
  entry: string,
  root: string,
  packageJson: Record<string, unknown>,
  taken: ReadonlySet<string>,
): Promise<{ path: string; text: string } | undefined> {
  if (packageJson.type !== "module" || packageJson.imports !== undefined) return undefined;
  if (!/\.(?:m?ts|m?js|tsx|jsx)$/.test(entry)) return undefined;
  const file = join(dirname(entry), `${basename(entry).replace(/\.[^.]+$/, "")}${COMPILED_SUFFIX}`);
  const path = toPosix(relative(root, file));
  if (taken.has(path)) return undefined;
  let output: string | undefined;
  try {
    const result = await build({
      entryPoints: [entry],
      bundle: true,
      packages: "external",
      write: false,
      platform: "node",
      format: "esm",
      target: "node20",
      // Paths in the output's comments and source map are relative to the bundle root: the same bytes anywhere.
      absWorkingDir: root,
      outfile: file,
      sourcemap: "inline",
      sourcesContent: false,
      keepNames: true,
      tsconfigRaw: {},
      logLevel: "silent",
      conditions: [],
      mainFields: ["main"],
      plugins: [onlyUnder(root)],
    });
    output = result.outputFiles.length === 1 ? result.outputFiles[0]?.text : undefined;
  } catch {
    return undefined;
  }
  // A CommonJS source's require() has no require in an ES module: such code runs under tsx.
  if (output === undefined || output.includes("Dynamic require of")) return undefined;
  return { path, text: output };
}

/** An esbuild plugin failing the build when a file outside `root` would be read. */
function onlyUnder(root: string): Plugin {
  const prefix = root.endsWith(sep) ? root : `${root}${sep}`;
  return {
    name: "drydock-only-under-root",
    setup(build) {
      build.onLoad({ filter: /.*/ }, (args) =>
        args.namespace === "file" && !args.path.startsWith(prefix)
          ? { errors: [{ text: `${args.path} is outside the bundle` }] }
          : undefined,
      );
    },
  };
}

function describeBuildFailure(error: unknown): string {
  const errors = (error as { errors?: Message[] }).errors;
  const first = errors?.[0];
  if (!first) return error instanceof Error ? error.message : String(error);
  const where = first.location
    ? `${first.location.file}:${first.location.line}:${first.location.column}: `
    : "";
  return `${where}${first.text}`;
}

/**
 * The author's files: those outside node_modules that belong to the entry's package, plus any file
 * outside node_modules that a source imports by relative path (so relative imports keep working).
 */
async function findSources(
  entry: string,
  files: Set<string>,
  edges: ImportEdge[],
  entryPackage: PackageJsonInfo | undefined,
  packageJsons: PackageJsonReader,
): Promise<Set<string>> {
  const sources = new Set<string>([entry]);
  for (const file of files) {
    if (isInNodeModules(file)) continue;
    if ((await packageJsons.nearest(dirname(file)))?.dir === entryPackage?.dir) sources.add(file);
  }
  let grew = true;
  while (grew) {
    grew = false;
    for (const edge of edges) {
      if (
        sources.has(edge.from) &&
        !sources.has(edge.to) &&
        isRelativeSpecifier(edge.original) &&
        !isInNodeModules(edge.to)
      ) {
        sources.add(edge.to);
        grew = true;
      }
    }
  }
  return sources;
}

async function groupPackageFiles(
  files: Set<string>,
  sources: Set<string>,
  edges: ImportEdge[],
  root: string,
  packageJsons: PackageJsonReader,
): Promise<Map<string, PackageUse>> {
  // One entry per package root first; roots sharing a name are then merged or reported as a conflict.
  const byRoot = new Map<string, PackageUse>();
  for (const file of [...files].sort(compare)) {
    if (sources.has(file)) continue;
    const info = await packageOf(file, packageJsons);
    if (!info) {
      const importer = edges.find((e) => e.to === file)?.from;
      throw new Error(
        `cannot pack: ${file}${importer ? ` (imported by ${importer})` : ""} is neither part of the entry's package nor of a package with a package.json "name"`,
      );
    }
    let use = byRoot.get(info.dir);
    if (!use) {
      const name =
        typeof info.json.name === "string" ? info.json.name : packageNameFromPath(info.dir);
      const version = typeof info.json.version === "string" ? info.json.version : "0.0.0";
      use = { name, version, root: info.dir, files: new Map() };
      byRoot.set(info.dir, use);
    }
    use.files.set(relative(info.dir, file), { file, root: info.dir });
  }

  const byName = new Map<string, PackageUse>();
  for (const use of byRoot.values()) {
    const seen = byName.get(use.name);
    if (!seen) {
      byName.set(use.name, { ...use, files: new Map(use.files) });
      continue;
    }
    if (seen.version !== use.version) {
      const describe = (u: PackageUse) =>
        `${u.version} (imported by ${importersOf(u, edges, sources, root, byRoot).join(", ") || "?"})`;
      throw new Error(
        `cannot pack: the code needs two versions of "${use.name}": ${describe(seen)} and ${describe(use)}; ` +
          `a bundle holds one version of each package, so align the dependencies on one version`,
      );
    }
    // The same version installed twice (pnpm peer-dependency variants): same files, ship them once.
    for (const [path, file] of use.files) if (!seen.files.has(path)) seen.files.set(path, file);
  }
  return byName;
}

function importersOf(
  use: PackageUse,
  edges: ImportEdge[],
  sources: Set<string>,
  root: string,
  byRoot: Map<string, PackageUse>,
): string[] {
  const importers = new Set<string>();
  const owns = (u: PackageUse, file: string) => u.files.get(relative(u.root, file))?.file === file;
  for (const edge of edges) {
    if (!owns(use, edge.to) || owns(use, edge.from)) continue;
    if (sources.has(edge.from)) {
      importers.add(toPosix(relative(root, edge.from)));
    } else {
      const owner = [...byRoot.values()].find((u) => owns(u, edge.from));
      importers.add(owner ? `${owner.name}@${owner.version}` : edge.from);
    }
  }
  return [...importers].sort(compare);
}

/** The package a non-source file belongs to: after the last node_modules segment, else the nearest named package.json. */
async function packageOf(
  file: string,
  packageJsons: PackageJsonReader,
): Promise<PackageJsonInfo | undefined> {
  const at = file.lastIndexOf(NODE_MODULES);
  if (at >= 0) {
    const rest = file.slice(at + NODE_MODULES.length).split(sep);
    const nameParts = rest[0]?.startsWith("@") ? rest.slice(0, 2) : rest.slice(0, 1);
    const dir = join(file.slice(0, at + NODE_MODULES.length), ...nameParts);
    const json = await packageJsons.read(dir);
    if (json) return { dir, json };
  }
  return packageJsons.nearest(dirname(file), { named: true });
}

function bundlePackageJson(
  entryPackage: PackageJsonInfo | undefined,
  root: string,
): Record<string, unknown> {
  const json: Record<string, unknown> = { name: "drydock-bundle", private: true, type: "module" };
  const authorType = entryPackage?.json.type;
  if (authorType === "module" || authorType === "commonjs") json.type = authorType;
  // Subpath imports (`#lib/x`) are relative to the package root, so they carry over only when it is the bundle root.
  if (entryPackage?.dir === root && entryPackage.json.imports !== undefined)
    json.imports = entryPackage.json.imports;
  return json;
}

async function sourceMapOf(file: string): Promise<string | undefined> {
  if (!SOURCE_MAP_SUFFIXES.some((suffix) => file.endsWith(suffix))) return undefined;
  const map = `${file}.map`;
  try {
    await access(map);
    return map;
  } catch {
    return undefined;
  }
}

/** Reads package.json files once each. */
class PackageJsonReader {
  private readonly cache = new Map<string, Promise<Record<string, unknown> | undefined>>();

  read(dir: string): Promise<Record<string, unknown> | undefined> {
    let pending = this.cache.get(dir);
    if (!pending) {
      pending = readFile(join(dir, "package.json"), "utf8").then(
        (text) => JSON.parse(text) as Record<string, unknown>,
        () => undefined,
      );
      this.cache.set(dir, pending);
    }
    return pending;
  }

  async nearest(
    startDir: string,
    options: { named?: boolean } = {},
  ): Promise<PackageJsonInfo | undefined> {
    for (let dir = startDir; ; dir = dirname(dir)) {
      const json = await this.read(dir);
      if (json && (!options.named || typeof json.name === "string")) return { dir, json };
      if (dirname(dir) === dir) return undefined;
    }
  }

  /** package.json files strictly inside `root` on the way up from `startDir` (they can change a file's module type). */
  async between(startDir: string, root: string): Promise<string[]> {
    const found: string[] = [];
    for (let dir = startDir; dir !== root && dir.startsWith(root + sep); dir = dirname(dir)) {
      if (await this.read(dir)) found.push(join(dir, "package.json"));
    }
    return found;
  }
}

function isInNodeModules(file: string): boolean {
  return file.includes(NODE_MODULES);
}

function isRelativeSpecifier(specifier: string): boolean {
  return (
    specifier.startsWith("./") ||
    specifier.startsWith("../") ||
    specifier === "." ||
    specifier === ".." ||
    isAbsolute(specifier)
  );
}

function packageNameFromPath(dir: string): string {
  const parts = dir.split(sep);
  const last = parts.at(-1) ?? dir;
  const parent = parts.at(-2);
  return parent?.startsWith("@") ? `${parent}/${last}` : last;
}

function commonAncestor(dirs: string[]): string {
  const [first, ...rest] = dirs;
  if (first === undefined) throw new Error("commonAncestor needs at least one directory");
  let common = first;
  for (const dir of rest) {
    while (dir !== common && !dir.startsWith(common.endsWith(sep) ? common : common + sep))
      common = dirname(common);
  }
  return common;
}

function toPosix(path: string): string {
  return sep === "/" ? path : path.split(sep).join("/");
}

/** The manifest as the bundle stores it (a fork rewrites it the same way). */
export function manifestText(manifest: BundleManifest): string {
  return `${JSON.stringify(manifest, null, 2)}\n`;
}

export function formatSize(bytes: number): string {
  return bytes < 1024
    ? `${bytes} B`
    : bytes < 1024 * 1024
      ? `${(bytes / 1024).toFixed(1)} kB`
      : `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}
