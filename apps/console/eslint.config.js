import { baseConfig } from "@drydock/eslint-config";

export default [...baseConfig];
