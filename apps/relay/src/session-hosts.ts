import { SessionIdSchema, sessionOrigin } from "@drydock/contracts";

/**
 * The IDE origin the sessions hang off, and which session a Host header names on it: session `s1` lives on
 * `s1.<ide-host>`. The origin is configured, or learnt once the relay listens (`http(s)://localhost:<port>`).
 */
export class SessionHosts {
  private origin: URL | undefined;

  constructor(configured: string | undefined) {
    this.origin = configured ? new URL(configured) : undefined;
  }

  /** The origin the relay listens as, unless one was configured. */
  learn(listening: URL): void {
    this.origin ??= listening;
  }

  /** `ide.example.com:8485`, once known. */
  get ideHost(): string | undefined {
    return this.origin?.host;
  }

  /** Whether browsers reach the relay over https (its cookies are then Secure). */
  get secure(): boolean {
    return this.origin?.protocol === "https:";
  }

  ideOrigin(): string {
    return this.known().origin;
  }

  /** The session a Host header names (`<session>.<ide-host>`), if it names one. */
  sessionOf(host: string | undefined): string | undefined {
    if (!host || !this.origin) return undefined;
    const lower = host.toLowerCase();
    const suffix = `.${this.origin.host}`;
    if (!lower.endsWith(suffix)) return undefined;
    const label = lower.slice(0, -suffix.length);
    return SessionIdSchema.safeParse(label).success ? label : undefined;
  }

  /** Session `sessionId`'s origin, e.g. `http://s1.localhost:8485`. */
  sessionOrigin(sessionId: string): string {
    return sessionOrigin(this.known(), sessionId);
  }

  private known(): URL {
    if (!this.origin) throw new Error("the relay's IDE origin is not known until it listens");
    return this.origin;
  }
}
