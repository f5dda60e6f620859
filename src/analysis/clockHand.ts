/**
 * The hand of FIFO and CLOCK over frames 0..n-1. A new page always takes the
 * victim's frame, so the frame order from the hand is the load order: FIFO
 * takes the frame under the hand; CLOCK clears reference bits until a frame
 * without one comes under it (the C reference simulator's CLOCK).
 */
export class ClockHand {
  private at = 0;
  /** reference bits CLOCK has cleared */
  refClears = 0;

  constructor(private readonly n: number) {}

  /** FIFO: the frame under the hand; the hand moves on. */
  fifo(): number {
    const s = this.at;
    this.at = s + 1 === this.n ? 0 : s + 1;
    return s;
  }

  /** CLOCK over `ref` (one byte per frame). */
  clock(ref: Uint8Array): number {
    for (;;) {
      const s = this.fifo();
      if (ref[s] === 0) return s;
      ref[s] = 0;
      this.refClears++;
    }
  }
}
