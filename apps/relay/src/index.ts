export { buildRelay } from "./app.js";
export type { Relay, RelayDeps } from "./app.js";
export { asRefusal, Refusal, serverAuthority } from "./authority.js";
export { CookieSigner, SESSION_COOKIE } from "./cookies.js";
export { readRelayConfig, RelayConfigSchema } from "./env.js";
export { REDEEM_PATH } from "./redeem.js";
export type { RelayConfig, RelayConfigInput } from "./env.js";
