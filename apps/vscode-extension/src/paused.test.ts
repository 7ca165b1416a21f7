import { LAUNCH_NAMES } from "@drydock/contracts/constants";
import { describe, expect, it } from "vitest";

import { PAUSED_CONTEXT_KEY, PausedTask } from "./paused.js";
import type { PausedHost, PausedState } from "./paused.js";
import { sampleContext } from "./test/fixtures.js";

const thrown: PausedState = {
  reason: "exception",
  file: "src/steps.ts",
  line: 12,
  message: "boom",
  name: "Error",
  stack: "Error: boom\n    at parse (src/steps.ts:12:11)",
  at: "2030-01-01T00:00:00.000Z",
  attachConfiguration: LAUNCH_NAMES.attach,
};

/** A host that records what VS Code would have been asked, in order. */
function fakeHost(startDebugging: PausedHost["startDebugging"] = () => Promise.resolve(true)) {
  const calls: string[] = [];
  const host: PausedHost = {
    startDebugging: (name) => (calls.push(`start ${name}`), startDebugging(name)),
    showInformation: (message) => calls.push(`info ${message}`),
    showWarning: (message) => calls.push(`warning ${message}`),
    setContext: (key, value) => (calls.push(`setContext ${key}=${value}`), Promise.resolve()),
    log: { info: () => undefined, error: (message) => calls.push(`error ${message}`) },
  };
  return { host, calls };
}

describe("PausedTask", () => {
  it("on a paused context sets the context key, says where it stopped and starts the attach configuration", async () => {
    const { host, calls } = fakeHost();
    await new PausedTask(host, new Set()).apply(sampleContext({ paused: thrown }));
    expect(calls).toEqual([
      `setContext ${PAUSED_CONTEXT_KEY}=true`,
      "info Drydock: paused at src/steps.ts:12: boom",
      "start Attach to Paused Task",
    ]);
  });

  it("attaches once per pause: neither a refresh nor the extension activated again in the same window starts it again", async () => {
    const attached = new Set<string>();
    const first = fakeHost();
    const task = new PausedTask(first.host, attached);
    await task.apply(sampleContext({ paused: thrown }));
    await task.apply(sampleContext({ paused: thrown }));
    expect(first.calls.filter((call) => call.startsWith("start "))).toHaveLength(1);
    // A second activation in the same extension host shares the module's memory.
    const again = fakeHost();
    await new PausedTask(again.host, attached).apply(sampleContext({ paused: thrown }));
    expect(again.calls).toEqual([`setContext ${PAUSED_CONTEXT_KEY}=true`]);
  });

  it("attaches again to a new pause: another attempt, or the same one paused again later", async () => {
    const { host, calls } = fakeHost();
    const task = new PausedTask(host, new Set());
    await task.apply(sampleContext({ paused: thrown }));
    await task.apply(sampleContext({ paused: thrown, attempt: { id: "at-2", number: 3 } }));
    await task.apply(sampleContext({ paused: { ...thrown, at: "2030-01-01T00:01:00.000Z" } }));
    expect(calls.filter((call) => call.startsWith("start "))).toHaveLength(3);
  });

  it("says 'paused before the task' for a pause point", async () => {
    const { host, calls } = fakeHost();
    await new PausedTask(host, new Set()).apply(
      sampleContext({ paused: { ...thrown, reason: "before", line: 3, message: "pause point" } }),
    );
    expect(calls).toContain("info Drydock: paused before the task at src/steps.ts:3");
  });

  it("leaves a session that is not paused alone, and clears the key once the pause is over", async () => {
    const { host, calls } = fakeHost();
    const task = new PausedTask(host, new Set());
    await task.apply(sampleContext());
    await task.apply(sampleContext());
    expect(calls).toEqual([`setContext ${PAUSED_CONTEXT_KEY}=false`]);
    calls.length = 0;
    await task.apply(sampleContext({ paused: thrown }));
    await task.apply(sampleContext());
    expect(calls.filter((call) => call.startsWith("setContext"))).toEqual([
      `setContext ${PAUSED_CONTEXT_KEY}=true`,
      `setContext ${PAUSED_CONTEXT_KEY}=false`,
    ]);
  });

  it("tells the user to start it from Run and Debug when the configuration does not start, or fails", async () => {
    const warning = `warning Drydock: the launch configuration "Attach to Paused Task" did not start: start it from Run and Debug to see the paused task's stack and variables.`;
    const refused = fakeHost(() => Promise.resolve(false));
    await new PausedTask(refused.host, new Set()).apply(sampleContext({ paused: thrown }));
    expect(refused.calls.at(-1)).toBe(warning);
    const failing = fakeHost(() => Promise.reject(new Error("no launch.json")));
    await new PausedTask(failing.host, new Set()).apply(sampleContext({ paused: thrown }));
    expect(failing.calls.slice(-2)).toEqual([
      'error "Attach to Paused Task": no launch.json',
      warning,
    ]);
  });
});
