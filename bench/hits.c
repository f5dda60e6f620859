/*
 * wasm/hits.ts's take in C, for bench/hits.bench.ts: the same loop over the
 * same runs (read from the file argv[1]), the same layouts (the memo's three
 * i32 arrays, a 64x4 first level of f64 keys and pfns, u32 metas and attrs,
 * way 0 most recent), a miss filled here at the front (the bench's runs
 * miss only while warming). Prints the best CPU ns a run of argv[2] rounds.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define SETS 16
#define WAYS 4
static int32_t memoLo[SETS], memoHi[SETS], memoPfn[SETS];
static double keys[SETS * WAYS], pfns[SETS * WAYS];
static uint32_t metas[SETS * WAYS], attrs[SETS * WAYS];
static uint8_t ref[1 << 20], dirty[1 << 20];

static long lookup(size_t base, double key, uint32_t asid) {
  long hit = -1;
  for (size_t x = base; x < base + WAYS; x++) {
    double kk = keys[x];
    if (kk == key) {
      uint32_t mt = metas[x];
      if ((mt & (1u << 23)) || (mt & 0xffff) == asid) { hit = (long)x; break; }
    } else if (kk == -1.0) break;
  }
  if (hit < 0) return -1;
  size_t x = (size_t)hit;
  if (x != base) {
    double kx = keys[x], px = pfns[x];
    uint32_t mx = metas[x], ax = attrs[x];
    for (size_t j = x; j > base; j--) {
      keys[j] = keys[j - 1]; pfns[j] = pfns[j - 1]; metas[j] = metas[j - 1]; attrs[j] = attrs[j - 1];
    }
    keys[base] = kx; pfns[base] = px; metas[base] = mx; attrs[base] = ax;
  }
  return (long)base;
}

static int64_t rep, sum;
static uint32_t nextPfn;

static void take(const uint32_t *runs, long count, uint32_t asid) {
  int64_t r = rep, s = sum;
  for (long i = 0; i < count; i++) {
    uint32_t lo = runs[2 * i], w = runs[2 * i + 1];
    uint32_t hi = w & 0x1ffff;
    int64_t len = ((w >> 17) & 0x3fff) + 1;
    uint32_t page = lo >> 14, set = page & (SETS - 1);
    uint32_t pfn;
    if ((uint32_t)memoLo[set] == page && (uint32_t)memoHi[set] == hi) {
      r += len;
      pfn = memoPfn[set];
      if (w >= 0x80000000u) dirty[pfn] = 1;
    } else {
      double key = ((double)hi * 262144.0 + page) * 8.0;
      size_t base = set * WAYS;
      if (lookup(base, key, asid) >= 0) {
        r += len;
        pfn = (uint32_t)(int32_t)pfns[base];
      } else {
        for (size_t j = base + WAYS - 1; j > base; j--) {
          keys[j] = keys[j - 1]; pfns[j] = pfns[j - 1]; metas[j] = metas[j - 1]; attrs[j] = attrs[j - 1];
        }
        keys[base] = key; pfns[base] = nextPfn++ & 0xfffff; metas[base] = asid; attrs[base] = 0;
        pfn = (uint32_t)pfns[base];
        r += len - 1;
      }
      memoLo[set] = page; memoHi[set] = hi; memoPfn[set] = pfn;
      ref[pfn] = 1;
      dirty[pfn] |= (uint8_t)(w >> 31);
    }
    s += (int64_t)pfn * len;
  }
  rep = r; sum = s;
}

int main(int argc, char **argv) {
  FILE *f = fopen(argv[1], "rb");
  if (!f) return 1;
  fseek(f, 0, SEEK_END);
  long bytes = ftell(f);
  fseek(f, 0, SEEK_SET);
  uint32_t *runs = malloc(bytes);
  if (fread(runs, 1, bytes, f) != (size_t)bytes) return 1;
  long n = bytes / 8;
  int rounds = atoi(argv[2]);
  for (int i = 0; i < SETS; i++) memoLo[i] = memoHi[i] = -1;
  for (int i = 0; i < SETS * WAYS; i++) keys[i] = -1.0;
  take(runs, n, 0); /* warm */
  double best = 1e30;
  for (int k = 0; k < rounds; k++) {
    clock_t a = clock();
    take(runs, n, 0);
    double ns = (double)(clock() - a) * 1e9 / CLOCKS_PER_SEC / n;
    if (ns < best) best = ns;
  }
  printf("%.2f (sum %lld)\n", best, (long long)sum);
  return 0;
}
