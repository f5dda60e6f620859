/**
 * "Did you mean": the statement a mistyped or borrowed word most likely meant. C library calls
 * map to the system calls under them (malloc takes its large blocks from mmap; memset is a
 * store to every byte), then the nearest name by edit distance (at most 1 for short words,
 * 2 for longer ones).
 */
const BORROWED: Readonly<Record<string, string>> = {
  malloc: "mmap",
  calloc: "mmap",
  valloc: "mmap",
  realloc: "mremap",
  free: "munmap",
  sbrk: "brk",
  memset: "write",
  memcpy: "write",
  store: "write",
  load: "read",
  kill: "exit",
  protect: "mprotect",
  pkey_set: "wrpkru",
  kzalloc: "kmalloc",
  vzalloc: "vmalloc",
};

/** Levenshtein distance with adjacent transpositions (optimal string alignment). */
function distance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++)
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  return d[a.length][b.length];
}

/** The name among `names` that `word` most likely meant, or null. */
export function suggest(word: string, names: Iterable<string>): string | null {
  const all = [...names];
  const w = word.toLowerCase();
  if (Object.hasOwn(BORROWED, w) && all.includes(BORROWED[w])) return BORROWED[w];
  if (word.length > 40) return null;
  const limit = w.length <= 4 ? 1 : 2;
  let best: string | null = null;
  let bestD = limit + 1;
  for (const n of all) {
    const d = distance(w, n.toLowerCase());
    if (d < bestD) {
      best = n;
      bestD = d;
    }
  }
  return best;
}

/** `: did you mean 'X'?` for an error message, or nothing. */
export function didYouMean(word: string, names: Iterable<string>, prefix = ""): string {
  const s = suggest(word, names);
  return s === null ? "" : `: did you mean '${prefix}${s}'?`;
}
