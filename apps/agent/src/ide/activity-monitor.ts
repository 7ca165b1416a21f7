/**
 * Whether a session saw activity since the last heartbeat: a stream opened through the tunnel or the local
 * port, code-server's heartbeat file touched (the editor in use), or a keep-alive from the IDE. An open
 * stream (a browser connected) counts for as long as it stays open. Each active beat moves the idle deadline.
 */
import { stat } from "node:fs/promises";

/** Something that carries the IDE's streams: the tunnel, the local port. */
export interface StreamCarrier {
  activity(): { opened: number; open: number };
}

/** How often the streams and the heartbeat file are sampled between two beats. */
const SAMPLE_EVERY_MS = 500;

export class ActivityMonitor {
  private pending = false;
  private seenStreams = 0;
  private seenHeartbeat = 0;
  private sampler: NodeJS.Timeout | undefined;

  /** `carriers` is asked each time, as the tunnel and the port come and go. */
  constructor(
    private readonly heartbeatFile: string,
    private readonly carriers: () => (StreamCarrier | undefined)[],
  ) {}

  start(): void {
    this.sampler = setInterval(() => void this.sample(), SAMPLE_EVERY_MS);
  }

  stop(): void {
    clearInterval(this.sampler);
  }

  /** The IDE asked to keep the session: activity, whatever else happened. */
  keepAlive(): void {
    this.pending = true;
  }

  /** True when the session was active since the last call; the heartbeat asks once per beat. */
  takeActivity(): boolean {
    const active = this.pending || this.count("open") > 0;
    this.pending = false;
    return active;
  }

  private async sample(): Promise<void> {
    const streams = this.count("opened");
    const mtime = await stat(this.heartbeatFile).then(
      (s) => s.mtimeMs,
      () => 0,
    );
    if (streams !== this.seenStreams || mtime !== this.seenHeartbeat) this.pending = true;
    this.seenStreams = streams;
    this.seenHeartbeat = mtime;
  }

  private count(which: "opened" | "open"): number {
    return this.carriers().reduce((sum, carrier) => sum + (carrier?.activity()[which] ?? 0), 0);
  }
}
