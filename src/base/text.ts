/**
 * `text` broken at spaces into lines of at most `width` columns, the first
 * after `indent`, the rest after `more`; a word longer than a line stays whole.
 */
export function wrapLine(text: string, width: number, indent: string, more: string): string[] {
  const out: string[] = [];
  let prefix = indent;
  let rest = text;
  while (prefix.length + rest.length > width) {
    const room = width - prefix.length;
    let cut = rest.lastIndexOf(" ", room);
    if (cut <= 0) cut = rest.indexOf(" ", room);
    if (cut <= 0) break;
    out.push(prefix + rest.slice(0, cut).trimEnd());
    rest = rest.slice(cut + 1).trimStart();
    prefix = more;
  }
  out.push(prefix + rest);
  return out;
}
