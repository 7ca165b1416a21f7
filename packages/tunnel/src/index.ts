export { openTunnel, TunnelClient, TunnelRefusedError } from "./agent-end.js";
export type { TunnelClientOptions, TunnelState, UpstreamTarget } from "./agent-end.js";
export { RelayTunnel } from "./relay-end.js";
export type { RelayTunnelOptions, TunnelStats } from "./relay-end.js";
export { DEFAULT_TUNING, endToEndHeaders, TUNNEL_PATH, TUNNEL_PROTOCOL } from "./protocol.js";
export type { HeaderMap, TunnelTuning } from "./protocol.js";
