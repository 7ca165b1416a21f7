// The bundle packer: what `drydock register` ships, and what the agent's tests pack their fixtures with.
export { packBundle } from "./pack.js";
export type { PackedBundle, PackOptions } from "./pack.js";
