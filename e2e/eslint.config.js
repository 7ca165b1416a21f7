import { baseConfig } from "@drydock/eslint-config";

// A test harness, not a service: it hands its environment to the processes it starts.
export default [
  ...baseConfig,
  // Task code as its authors write it: the SDK takes sync or async task functions, and `async` is the usual form.
  { files: ["fixtures/**"], rules: { "@typescript-eslint/require-await": "off" } },
];
