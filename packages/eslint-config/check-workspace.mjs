// `pnpm lint` runs this: the workspace's dependency arrows point one way. A package under packages/ may
// depend on other packages, never on an app, in its package.json (ESLint's `packageBoundaries` catches the
// imports themselves), and each package's eslint.config.js applies `packageBoundaries`.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

import { appPackageNames } from "./index.js";

const root = join(import.meta.dirname, "..", "..");
const apps = new Set(appPackageNames(join(root, "apps")));
const problems = [];

for (const entry of readdirSync(join(root, "packages"), { withFileTypes: true })) {
  if (!entry.isDirectory()) continue;
  const dir = join(root, "packages", entry.name);
  const manifestFile = join(dir, "package.json");
  if (!existsSync(manifestFile)) continue;
  const manifest = JSON.parse(readFileSync(manifestFile, "utf8"));
  for (const field of [
    "dependencies",
    "devDependencies",
    "peerDependencies",
    "optionalDependencies",
  ]) {
    for (const name of Object.keys(manifest[field] ?? {})) {
      if (apps.has(name))
        problems.push(`packages/${entry.name}/package.json: ${field} names the app ${name}`);
    }
  }
  const eslintConfig = join(dir, "eslint.config.js");
  if (
    existsSync(eslintConfig) &&
    !readFileSync(eslintConfig, "utf8").includes("packageBoundaries")
  ) {
    problems.push(
      `packages/${entry.name}/eslint.config.js: does not apply packageBoundaries from @drydock/eslint-config`,
    );
  }
}

if (problems.length > 0) {
  console.error(
    `A package depends on an app (apps depend on packages, never the reverse):\n  ${problems.join("\n  ")}`,
  );
  process.exit(1);
}
console.log(`workspace boundaries: ${apps.size} apps, no package depends on one`);
