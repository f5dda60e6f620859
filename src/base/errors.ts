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
