/** Why a task image could not be built; the code is stable, the message names the image and the problem. */
export type TaskImageErrorCode =
  | "IMAGE_SPEC_INVALID"
  | "DOCKER_UNREACHABLE"
  | "BASE_IMAGE_MISSING"
  | "IMAGE_BUILD_FAILED"
  | "IMAGE_PUSH_FAILED";

/**
 * A task image that cannot be built, e.g. `IMAGE_SPEC_INVALID`: `ImageSpec "tools": package "a b" is not ...`.
 * The CLI reports the message as it is.
 */
export class TaskImageError extends Error {
  override name = "TaskImageError";

  constructor(
    readonly code: TaskImageErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
