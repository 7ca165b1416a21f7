import { baseConfig, packageBoundaries, restrictEnvAccess } from "@drydock/eslint-config";

// A package: it never imports an app (apps import packages).
export default [...baseConfig, ...restrictEnvAccess, ...packageBoundaries];
