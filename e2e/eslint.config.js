import { baseConfig } from "@drydock/eslint-config";

// A test harness, not a service: it hands its environment to the processes it starts.
export default [...baseConfig];
