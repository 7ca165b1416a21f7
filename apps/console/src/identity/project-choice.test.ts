import { describe, expect, it } from "vitest";

import { chooseProject, switchTarget, withProject } from "./project-choice.js";

describe("chooseProject", () => {
  const visible = ["ops", "default", "ml"];

  it("takes the URL's project, then the remembered one, then default, then the first", () => {
    expect(chooseProject({ fromUrl: "ml", remembered: "ops", visible })).toBe("ml");
    expect(chooseProject({ fromUrl: null, remembered: "ops", visible })).toBe("ops");
    expect(chooseProject({ fromUrl: null, remembered: null, visible })).toBe("default");
    expect(chooseProject({ fromUrl: null, remembered: null, visible: ["ops", "ml"] })).toBe("ops");
  });

  it("passes over projects I may not see", () => {
    expect(chooseProject({ fromUrl: "secret", remembered: "gone", visible })).toBe("default");
    expect(chooseProject({ fromUrl: "secret", remembered: null, visible: ["ml"] })).toBe("ml");
    expect(chooseProject({ fromUrl: "ops", remembered: null, visible: [] })).toBeUndefined();
  });
});

describe("withProject and switchTarget", () => {
  it("puts the project in the search, keeping the rest", () => {
    expect(withProject("/executions", "ops")).toBe("/executions?project=ops");
    expect(withProject("/audit?actor=bob&project=x", "ops")).toBe("/audit?actor=bob&project=ops");
    expect(withProject("/api-keys", undefined)).toBe("/api-keys");
  });

  it("opens the same list in the other project, or its executions", () => {
    expect(switchTarget("/members", "ops")).toBe("/members?project=ops");
    expect(switchTarget("/workflows/hello", "ops")).toBe("/workflows?project=ops");
    expect(switchTarget("/executions/x1", "ops")).toBe("/executions?project=ops");
    expect(switchTarget("/elsewhere", "ops")).toBe("/executions?project=ops");
  });
});
