import { baseConfig, restrictEnvAccess } from "@drydock/eslint-config";

export default [...baseConfig, ...restrictEnvAccess];
