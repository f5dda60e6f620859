/**
 * Numbers with their digits grouped by commas, as `n.toLocaleString("en-US")`
 * writes them, without ICU for an integer: the first call into ICU's number
 * formatting in a process costs 15-25 ms (its locale data loaded), a tenth
 * of a short `vmlab trace` run (issue #20, start-up). Anything but a safe
 * integer (a fraction, -0, beyond 2^53, not finite) still goes to
 * toLocaleString.
 */
export function grouped(n: number): string {
  if (!Number.isSafeInteger(n) || Object.is(n, -0)) return n.toLocaleString("en-US");
  const s = String(n < 0 ? -n : n);
  const head = s.length % 3 || 3;
  let out = s.slice(0, head);
  for (let i = head; i < s.length; i += 3) out += `,${s.slice(i, i + 3)}`;
  return n < 0 ? `-${out}` : out;
}
