/**
 * What a session started and must stop, whatever its end: code-server, the local port, the control
 * socket, the tunnel, and the timers sampling activity and saving the edits. What it stopped is
 * forgotten, so stopping again does nothing.
 */
import type { TunnelClient } from "@drydock/tunnel";

import type { ActivityMonitor } from "./activity-monitor.js";
import type { ChangeSaver } from "./change-saver.js";
import type { RunningCodeServer } from "./code-server.js";
import type { ControlServer } from "./control.js";
import type { LocalPort } from "./local-port.js";

export class SessionResources {
  ide?: RunningCodeServer;
  localPort?: LocalPort;
  control?: ControlServer;
  tunnel?: TunnelClient;
  activity?: ActivityMonitor;
  changes?: ChangeSaver;

  async stopAll(): Promise<void> {
    const { ide, localPort, control, tunnel, activity, changes } = this;
    activity?.stop();
    changes?.stop();
    for (const key of ["ide", "localPort", "control", "tunnel", "activity", "changes"] as const)
      delete this[key];
    await Promise.all([tunnel?.close(), control?.close(), localPort?.close(), ide?.stop(3_000)]);
  }
}
