export { BUNDLE_MANIFEST_FILE, packBundle } from "./pack.js";
export type { PackedBundle, PackOptions } from "./pack.js";
