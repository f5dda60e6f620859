/**
 * The progress line of `vmlab trace` (on stderr, and only on a terminal):
 * records, rate, and the percentage and ETA when the input's size is known.
 */
import { grouped } from "./grouped.ts";

const fmt = grouped; // n.toLocaleString("en-US") without ICU for an integer (grouped.ts)

/**
 * A progress line (on stderr, and only on a terminal): records, rate, and
 * the percentage and ETA when the input's size is known; redrawn at most
 * every 200 ms.
 */
export class Progress {
  private last = 0;
  constructor(
    private readonly total: number,
    private readonly write: (s: string) => void = (s) => process.stderr.write(s),
  ) {}

  /** The line for a terminal when `isTTY`, else null: pipes and CI stay quiet. */
  static forTerminal(
    enabled: boolean,
    isTTY: boolean | undefined,
    total: number,
    write?: (s: string) => void,
  ): Progress | null {
    return enabled && isTTY === true ? new Progress(total, write) : null;
  }

  update(rawBytes: number, records: number, ms: number): void {
    if (ms - this.last < 200) return;
    this.last = ms;
    const rate = records / (ms / 1000);
    let tail = "";
    if (this.total > 0 && rawBytes > 0) {
      const frac = Math.min(1, rawBytes / this.total);
      const eta = (ms / 1000) * (1 / frac - 1);
      tail = `, ${(100 * frac).toFixed(0)}%, ETA ${eta.toFixed(0)} s`;
    }
    this.write(`\r${fmt(records)} records, ${(rate / 1e6).toFixed(1)} M/s${tail}   `);
  }
  done(): void {
    if (this.last > 0) this.write("\r\x1b[K");
  }
}
