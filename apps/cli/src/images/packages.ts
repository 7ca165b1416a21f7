/**
 * The npm package specs an ImageSpec names (`is-number@7.0.0`, `@scope/pkg@^1.2.0`, `lodash`). They end up
 * on a shell command line in the image's Dockerfile, so only a strict subset of npm's syntax is accepted:
 * a registry package name and optionally an exact version, a ^/~/x range or a dist-tag. Nothing in it can
 * start an option (`-`), expand (`$`, `*`, leading `~`), quote, redirect or separate shell words.
 */
import { TaskImageError } from "./errors.js";

const NAME = String.raw`(?:@[a-z0-9][a-z0-9._-]*\/)?[A-Za-z0-9][A-Za-z0-9._-]*`;
const VERSION = String.raw`[A-Za-z0-9.^~+_-]+`;
const PACKAGE_SPEC = new RegExp(`^(${NAME})(?:@(${VERSION}))?$`);
/** npm's own limit on a package name. */
const MAX_NAME_LENGTH = 214;

/** One package of an ImageSpec: its name (what code imports) and the spec npm installs. */
export interface ImagePackage {
  name: string;
  spec: string;
}

/**
 * Parses and checks one ImageSpec package; `image` names the ImageSpec in the error.
 * @example parseImagePackage("@scope/x@1") // { name: "@scope/x", spec: "@scope/x@1" }
 */
export function parseImagePackage(spec: string, image?: string): ImagePackage {
  const match = PACKAGE_SPEC.exec(spec);
  const name = match?.[1];
  if (!name || name.length > MAX_NAME_LENGTH) {
    throw new TaskImageError(
      "IMAGE_SPEC_INVALID",
      `${image === undefined ? "" : `ImageSpec "${image}": `}package ${JSON.stringify(spec)} is not an npm package spec a task image accepts: ` +
        "name[@version], e.g. is-number@7.0.0, @scope/pkg@^1.2.0 or lodash@latest (no URLs, paths, aliases, spaces or <>|*$ in ranges)",
    );
  }
  return { name, spec };
}

/**
 * The package name of an ImageSpec package spec, without its version: what the packer leaves to the image.
 * @example imagePackageName("@scope/x@1") // "@scope/x"
 */
export function imagePackageName(spec: string): string {
  return parseImagePackage(spec).name;
}

/**
 * An ImageSpec's packages checked, sorted and without repeats; the same package twice with different specs
 * is refused (npm would install only one of them).
 */
export function checkImagePackages(image: string, specs: readonly string[]): ImagePackage[] {
  const byName = new Map<string, ImagePackage>();
  for (const spec of specs) {
    const parsed = parseImagePackage(spec, image);
    const seen = byName.get(parsed.name);
    if (seen && seen.spec !== parsed.spec) {
      throw new TaskImageError(
        "IMAGE_SPEC_INVALID",
        `ImageSpec "${image}" names package ${parsed.name} twice (${seen.spec} and ${parsed.spec}); keep one`,
      );
    }
    byName.set(parsed.name, parsed);
  }
  return [...byName.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}
