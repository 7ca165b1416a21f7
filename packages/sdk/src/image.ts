import type { ImageSpecData } from "@drydock/contracts";
import { ImageSpecDataSchema } from "@drydock/contracts";

/** What `new ImageSpec(options)` takes. */
export interface ImageSpecOptions {
  /** Image name, e.g. `interactive-tasks-example`. */
  name: string;
  /** The image to build on; the platform's default Node image when absent. */
  baseImage?: string;
  /** npm packages to install into the image. */
  packages?: string[];
  /** Environment variables set in the image. */
  env?: Record<string, string>;
}

/**
 * The container image a task runs in, as data; the platform builds it.
 * @example new ImageSpec({ name: "interactive-tasks-example", packages: ["lodash"] })
 */
export class ImageSpec {
  readonly name: string;
  readonly baseImage: string | undefined;
  readonly packages: readonly string[];
  readonly env: Readonly<Record<string, string>>;

  constructor(options: ImageSpecOptions) {
    const parsed = ImageSpecDataSchema.safeParse(options);
    if (!parsed.success) {
      const problems = parsed.error.issues
        .map((i) => `${i.path.join(".") || "options"}: ${i.message}`)
        .join("; ");
      throw new Error(`invalid ImageSpec: ${problems}`);
    }
    this.name = parsed.data.name;
    this.baseImage = parsed.data.baseImage;
    // Copies, so changing the caller's arrays later does not change an image already given to tasks.
    this.packages = Object.freeze([...parsed.data.packages]);
    this.env = Object.freeze({ ...parsed.data.env });
  }

  /** The image as registered with the platform. */
  toData(): ImageSpecData {
    return {
      name: this.name,
      ...(this.baseImage === undefined ? {} : { baseImage: this.baseImage }),
      packages: [...this.packages],
      env: { ...this.env },
    };
  }
}
