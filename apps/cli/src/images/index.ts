export { buildTaskImages } from "./build.js";
export type { BuildTaskImagesOptions, TaskImageProgress } from "./build.js";
export { TaskImageError } from "./errors.js";
export type { TaskImageErrorCode } from "./errors.js";
export { checkImagePackages, imagePackageName, parseImagePackage } from "./packages.js";
export type { ImagePackage } from "./packages.js";
export {
  checkImageSpec,
  DEFAULT_TASK_BASE_IMAGE,
  IMAGE_PACKAGES_PREFIX,
  IMAGE_SPEC_LABEL,
  taskImageDockerfile,
  taskImageHash,
  taskImageRepository,
  taskImageTag,
} from "./recipe.js";
export type { ImageContent, TaskImageDockerfileOptions } from "./recipe.js";
