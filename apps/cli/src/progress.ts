/** Progress of long steps on stderr: one rewritten line on a terminal, plain lines elsewhere. */
export class Progress {
  private lastLength = 0;

  constructor(
    private readonly tty: boolean,
    private readonly quiet = false,
  ) {}

  update(message: string): void {
    if (this.quiet) return;
    if (this.tty) {
      process.stderr.write(`\r${message.padEnd(this.lastLength)}`);
      this.lastLength = message.length;
    }
  }

  step(message: string): void {
    if (this.quiet) return;
    if (this.tty && this.lastLength > 0) process.stderr.write(`\r${" ".repeat(this.lastLength)}\r`);
    this.lastLength = 0;
    process.stderr.write(`${message}\n`);
  }
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}
