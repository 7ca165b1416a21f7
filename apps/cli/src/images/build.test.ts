import type { TaskSpec } from "@drydock/contracts";
import Docker from "dockerode";
import { describe, expect, it } from "vitest";

import { buildTaskImages } from "./build.js";
import { TaskImageError } from "./errors.js";

/** An engine address where nothing listens: every call fails like an engine that is not running. */
const nowhere = () => new Docker({ socketPath: "/nonexistent/drydock-test/docker.sock" });

function taskWith(name: string, image?: TaskSpec["image"]): TaskSpec {
  return { name, inputs: {}, required: [], output: {}, retries: 0, ...(image ? { image } : {}) };
}

describe("buildTaskImages without an engine", () => {
  it("says which engine it cannot reach", async () => {
    const attempt = buildTaskImages(
      [taskWith("t", { name: "tools", packages: ["is-number@7.0.0"], env: {} })],
      { docker: nowhere() },
    );
    await expect(attempt).rejects.toThrow(TaskImageError);
    await expect(attempt).rejects.toMatchObject({
      code: "DOCKER_UNREACHABLE",
      message: expect.stringMatching(
        /^cannot reach the Docker engine at \/nonexistent\/drydock-test\/docker\.sock: .*ENOENT/,
      ) as string,
    });
  });

  it("needs no engine when no task names an image", async () => {
    expect(await buildTaskImages([taskWith("a"), taskWith("b")], { docker: nowhere() })).toEqual(
      new Map(),
    );
  });

  it("checks every ImageSpec before it talks to the engine", async () => {
    const tasks = [
      taskWith("a", { name: "ok", packages: ["is-number@7.0.0"], env: {} }),
      taskWith("b", { name: "bad", packages: ["left-pad@1.3.0 && curl evil"], env: {} }),
    ];
    await expect(buildTaskImages(tasks, { docker: nowhere() })).rejects.toMatchObject({
      code: "IMAGE_SPEC_INVALID",
      message: expect.stringContaining(
        'ImageSpec "bad": package "left-pad@1.3.0 && curl evil" is not an npm package spec',
      ) as string,
    });
  });

  it("refuses two different ImageSpecs with one name", async () => {
    const tasks = [
      taskWith("a", { name: "tools", packages: ["is-number@7.0.0"], env: {} }),
      taskWith("b", { name: "tools", packages: ["is-number@6.0.0"], env: {} }),
    ];
    await expect(buildTaskImages(tasks, { docker: nowhere() })).rejects.toMatchObject({
      code: "IMAGE_SPEC_INVALID",
      message:
        'two different ImageSpecs are named "tools" (task b uses one of them); give each its own name',
    });
  });
});
