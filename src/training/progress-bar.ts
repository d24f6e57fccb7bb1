/** Where the bar draws: a terminal stream (`process.stderr`). */
export interface ProgressStream {
  write(text: string): unknown;
  columns?: number;
}

/** `1h02m`, `4m05s`, `12s`. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const total = Math.max(0, Math.round(seconds));
  const hours = Math.floor(total / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const rest = total % 60;
  if (hours > 0) return `${hours}h${String(minutes).padStart(2, '0')}m`;
  if (minutes > 0) return `${minutes}m${String(rest).padStart(2, '0')}s`;
  return `${rest}s`;
}

/**
 * A one-line progress bar redrawn in place with `\r`, for terminals only: `[#####-----] 120/400 loss 0.6931 …`.
 * Log lines written while it shows go through `interrupt` so they do not mix with the bar.
 */
export class ProgressBar {
  private line = '';

  constructor(
    private readonly stream: ProgressStream,
    private readonly total: number,
  ) {}

  /** Redraws the bar at `done` steps with the given text after it. */
  update(done: number, text: string): void {
    const width = 24;
    const filled = Math.min(width, Math.round((width * done) / Math.max(1, this.total)));
    const line = `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${done}/${this.total} ${text}`;
    this.line = line.slice(0, Math.max(20, (this.stream.columns ?? 120) - 1));
    this.stream.write(`\r\x1b[K${this.line}`);
  }

  /** Clears the bar, runs `write` (which prints whole lines), and draws the bar again below. */
  interrupt(write: () => void): void {
    if (this.line) this.stream.write('\r\x1b[K');
    write();
    if (this.line) this.stream.write(this.line);
  }

  /** Ends the bar's line. */
  finish(): void {
    if (this.line) this.stream.write('\n');
    this.line = '';
  }
}
