/**
 * Bad input from a user: a malformed image, an impossible machine size, a
 * TLB geometry that does not divide. Carries where it came from when known,
 * so the CLI can print `FILE:LINE:COL: message`.
 */
export class InputError extends Error {
  override name = "InputError";
  constructor(
    message: string,
    readonly where?: { file?: string; line?: number; col?: number; offset?: number },
  ) {
    super(message);
  }

  /** `FILE:LINE:COL: message`, or the message alone when nothing is known. */
  format(): string {
    const w = this.where;
    if (!w) return this.message;
    const parts: string[] = [];
    if (w.file !== undefined) parts.push(w.file);
    if (w.line !== undefined) parts.push(String(w.line));
    if (w.col !== undefined) parts.push(String(w.col));
    let head = parts.join(":");
    if (w.offset !== undefined) head += `${head ? " " : ""}(byte offset ${w.offset})`;
    return head ? `${head}: ${this.message}` : this.message;
  }
}

/**
 * The simulated RAM a run has written needs more host memory than the run
 * may use (PhysMem.hostLimitFrames): the front end names its flag and the
 * statement. Thrown on the first write to a frame past the limit (a frame
 * takes host memory only when first written), never on the hot path of an
 * access to a frame that already holds memory.
 */
export class HostMemoryError extends InputError {
  override name = "HostMemoryError";
}

/**
 * A piece of user input fit to quote in a message: at most `max`
 * characters (then `…`), control and non-ASCII characters escaped
 * (`\n`, `\u0001`), so that a bad 1 MB token or a stray control byte
 * never floods or garbles the terminal.
 */
export function excerpt(text: string, max = 40): string {
  let out = "";
  let n = 0;
  for (const ch of text) {
    if (n === max) return `${out}…`;
    const c = ch.codePointAt(0)!;
    if (ch === "\n") out += "\\n";
    else if (ch === "\t") out += "\\t";
    else if (ch === "\r") out += "\\r";
    else if (
      c < 0x20 ||
      (c >= 0x7f && c < 0xa0) ||
      c === 0x2028 ||
      c === 0x2029 ||
      (c >= 0xd800 && c < 0xe000)
    )
      out += `\\u${c.toString(16).padStart(4, "0")}`;
    else out += ch;
    n++;
  }
  return out;
}

/**
 * A message fit to print: every '…'-quoted piece longer than `max` cut to an
 * excerpt, and control characters (but newlines) escaped.
 */
export function tidyMessage(msg: string, max = 40): string {
  // a piece excerpt() made already (it ends in '…') stays as it is
  const cut = msg.replace(/'([^'\n]*)'/g, (whole, inner: string) =>
    inner.length > max && !inner.endsWith("…") ? `'${excerpt(inner, max)}'` : whole,
  );
  let out = "";
  for (const ch of cut) out += ch === "\n" ? ch : excerpt(ch);
  return out;
}
