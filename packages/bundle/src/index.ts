// The bundle packer: what `drydock register` ships, and what the agent's tests pack their fixtures with;
// forking a bundle with an IDE's edit; and the task code hash both sides compute.
export { packBundle } from "./pack.js";
export type { PackedBundle, PackOptions } from "./pack.js";
export { forkBundle } from "./fork.js";
export type { ForkedBundle } from "./fork.js";
export { findTaskCode, taskCodeAt } from "./task-code.js";
