/*
 * Differential probe for large folios in the page cache: for each folio
 * size C (pages) and mapping offset OFF (pages past a 2 MiB boundary),
 * writes a 2 MiB file in writes of C pages and fsyncs it (ext4 on Linux
 * 6.16+ gives each write a folio of its length), checks the folio sizes
 * through /proc/kpageflags (compound head/tail), maps the file shared and
 * read-only at a 2 MiB boundary + OFF pages, and reports the minor faults
 * (getrusage) and present pages (/proc/self/pagemap) after one read of page
 * 200 and after reading every page, the cached pages (mincore), and
 * FilePmdMapped (a 2 MiB folio at a 2 MiB boundary is mapped by a PMD).
 * Last, a cold read after POSIX_FADV_DONTNEED: the largest
 * folio mmap read-around made. A "skip" record where this is impossible.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include "probe.h"

#define PG 4096L
#define N 512L

static long faults(void) { return probe_faults(); }

static long majors(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_majflt;
}

static long present(const char *a) { return probe_present(a, N); }
static long present16(const char *a) { return probe_present(a, 16); }
static long cached16(char *a) { return probe_incore(a, 16); }
static long cached(char *a) { return probe_incore(a, N); }

/* the largest folio among the mapped pages (compound head followed by tails), -1 without kpageflags */
static long largest_folio(const char *a) {
    int pm = open("/proc/self/pagemap", O_RDONLY), kf = open("/proc/kpageflags", O_RDONLY);
    long best = -1, run = 0;
    for (long i = 0; pm >= 0 && kf >= 0 && i < N; i++) {
        uint64_t e = 0, f = 0;
        if (pread(pm, &e, 8, (off_t)(((uintptr_t)a / PG) + i) * 8) != 8 || !(e >> 63)) { run = 0; continue; }
        uint64_t pfn = e & ((1ULL << 55) - 1);
        if (pfn == 0 || pread(kf, &f, 8, (off_t)pfn * 8) != 8) break; /* no PFNs or no kpageflags: unknown */
        if (f >> 16 & 1) run++;           /* KPF_COMPOUND_TAIL */
        else run = 1;                      /* a head, or a 4K folio */
        if (run > best) best = run;
    }
    if (pm >= 0) close(pm);
    if (kf >= 0) close(kf);
    return best;
}

/* the folio of the first mapped page, in pages (-1 without kpageflags) */
static long largest_folio16(const char *a) {
    int pm = open("/proc/self/pagemap", O_RDONLY), kf = open("/proc/kpageflags", O_RDONLY);
    long n = -1;
    for (long i = 0; pm >= 0 && kf >= 0 && i < 16; i++) {
        uint64_t e = 0, f = 0;
        if (pread(pm, &e, 8, (off_t)(((uintptr_t)a / PG) + i) * 8) != 8 || !(e >> 63)) break;
        uint64_t pfn = e & ((1ULL << 55) - 1);
        if (pfn == 0 || pread(kf, &f, 8, (off_t)pfn * 8) != 8) break;
        if (i > 0 && !(f >> 16 & 1)) break;
        n = i + 1;
    }
    if (pm >= 0) close(pm);
    if (kf >= 0) close(kf);
    return n;
}

static long pmd_mapped_kb(void) {
    FILE *f = fopen("/proc/self/smaps_rollup", "r");
    char l[256];
    long v = -1;
    while (f && fgets(l, sizeof l, f))
        if (sscanf(l, "FilePmdMapped: %ld", &v) == 1) break;
    if (f) fclose(f);
    return v;
}

static int make_file(const char *path, long chunk) {
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) return -1;
    static char buf[N * PG];
    for (long i = 0; i < N * PG; i++) buf[i] = (char)(i >> 12);
    for (long i = 0; i < N; i += chunk)
        if (write(fd, buf + i * PG, chunk * PG) != chunk * PG) { close(fd); return -1; }
    fsync(fd);
    return fd;
}

static char *map_at(int fd, long off) {
    char *hint = mmap(NULL, N * PG + (4L << 20), PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    char *al = (char *)(((uintptr_t)hint + (2L << 20) - 1) & ~((uintptr_t)(2L << 20) - 1));
    munmap(hint, N * PG + (4L << 20));
    return mmap(al + off * PG, N * PG, PROT_READ, MAP_SHARED | MAP_FIXED, fd, 0);
}

static void one(const char *path, long chunk, long off) {
    int fd = make_file(path, chunk);
    if (fd < 0) { printf("{\"exp\":\"skip\",\"why\":\"cannot write the file\"}\n"); return; }
    char *p = map_at(fd, off);
    (void)present(p);
    (void)cached(p);
    long f0 = faults();
    (void)*(volatile char *)(p + 200 * PG);
    long first = faults() - f0;
    long first_present = present(p);
    f0 = faults();
    for (long i = 0; i < N; i++) (void)*(volatile char *)(p + i * PG);
    long all = faults() - f0;
    printf("{\"exp\":\"c%ld-o%ld\",\"first\":%ld,\"first_present\":%ld,\"all\":%ld,\"present\":%ld,\"cached\":%ld,"
           "\"folio\":%ld,\"pmd_kb\":%ld}\n",
           chunk, off, first, first_present, all, present(p), cached(p), largest_folio(p), pmd_mapped_kb());
    munmap(p, N * PG);
    close(fd);
    unlink(path);
}

/* ftruncate into a 64K folio of a file mapped at a 2 MiB boundary (truncate_inode_partial_folio splits it, unmapping it) */
static void truncate_exp(const char *path) {
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    static char buf[16 * PG];
    if (fd < 0 || write(fd, buf, sizeof buf) != (long)sizeof buf) { printf("{\"exp\":\"skip\",\"why\":\"cannot write the file\"}\n"); return; }
    fsync(fd);
    char *hint = mmap(NULL, 4L << 20, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    char *al = (char *)(((uintptr_t)hint + (2L << 20) - 1) & ~((uintptr_t)(2L << 20) - 1));
    munmap(hint, 4L << 20);
    char *p = mmap(al, 16 * PG, PROT_READ, MAP_SHARED | MAP_FIXED, fd, 0);
    (void)*(volatile char *)p;
    (void)*(volatile char *)(p + PG);
    long folio = largest_folio16(p);
    long before = present16(p);
    int r = ftruncate(fd, 5000);
    long after = present16(p), cached_after = cached16(p);
    (void)*(volatile char *)(p + PG);
    printf("{\"exp\":\"truncate\",\"folio\":%ld,\"ret\":%d,\"before\":%ld,\"after\":%ld,\"cached\":%ld,\"reread\":%ld}\n", folio, r,
           before, after, cached_after, present16(p));
    munmap(p, 16 * PG);
    close(fd);
    unlink(path);
}

int main(int argc, char **argv) {
    if (argc != 2) return 2;
    long chunks[] = {1, 2, 4, 16, 128, 256, 512};
    for (int c = 0; c < 7; c++)
        for (long off = 0; off < 2; off++) one(argv[1], chunks[c], off);
    /* cold: what mmap read-around allocates (do_sync_mmap_readahead) */
    int fd = make_file(argv[1], N);
    if (fd < 0) return 0;
    char *p = map_at(fd, 0);
    posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    if (cached(p) != 0) { printf("{\"exp\":\"skip\",\"why\":\"POSIX_FADV_DONTNEED left pages cached\"}\n"); unlink(argv[1]); return 0; }
    long m0 = majors();
    (void)*(volatile char *)(p + 200 * PG);
    printf("{\"exp\":\"cold\",\"major\":%ld,\"folio\":%ld}\n", majors() - m0, largest_folio(p));
    munmap(p, N * PG);
    close(fd);
    unlink(argv[1]);
    truncate_exp(argv[1]);
    return 0;
}
