/**
 * The three functions of node:path (POSIX) the scenario engine uses, for
 * the browser build (vite.config.ts aliases `node:path` here): a scenario's
 * own directory, for the paths its `replay` statements name.
 */
export function isAbsolute(p: string): boolean {
  return p.startsWith("/");
}

export function dirname(p: string): string {
  const i = p.lastIndexOf("/");
  if (i < 0) return ".";
  return i === 0 ? "/" : p.slice(0, i);
}

export function join(...parts: string[]): string {
  const out: string[] = [];
  for (const seg of parts.join("/").split("/")) {
    if (seg === "" || seg === ".") continue;
    if (seg === ".." && out.length > 0 && out[out.length - 1] !== "..") out.pop();
    else out.push(seg);
  }
  const joined = out.join("/");
  return parts[0]?.startsWith("/") ? `/${joined}` : joined || ".";
}
