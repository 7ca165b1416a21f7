export { openTunnel, TunnelClient, TunnelRefusedError } from "./agent-end.js";
export type { TunnelClientOptions, TunnelState, UpstreamTarget } from "./agent-end.js";
export { RelayTunnel, spliceConnection } from "./relay-end.js";
export { copyCorked } from "./copy.js";
export type { RelayTunnelOptions, TunnelStats } from "./relay-end.js";
export {
  DEFAULT_TUNING,
  endToEndHeaders,
  NGHTTP2_CANCEL,
  TUNNEL_PATH,
  TUNNEL_PROTOCOL,
} from "./protocol.js";
export type { HeaderMap, TunnelTuning } from "./protocol.js";
