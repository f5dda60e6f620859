/*
 * Differential probe for 1 GiB HugeTLB pages (mm/hugetlb.c, a gigantic
 * hstate; x86-64 with pdpe1gb), run as root. Prints a JSON line after each
 * step with the step's result and the 1 GiB pool's sysfs counts
 * (/sys/kernel/mm/hugepages/hugepages-1048576kB/: nr, free, resv, surplus)
 * and meminfo's Hugetlb (kB, every size) and HugePages_Total (the default
 * 2 MiB pool's):
 *   mmap-empty     MAP_HUGE_1GB with the pool at 0: -ENOMEM
 *   mmap-16m       MAP_HUGE_16MB, a size with no pool: -EINVAL
 *   overcommit     nr_overcommit_hugepages of the 1 GiB pool: -EINVAL
 *   set            nr_hugepages=1 read back: 1, or 0 when the host could
 *                  not find a free 1 GiB range (then the probe stops:
 *                  {"exp":"nospace"})
 *   mmap-2g        2 GiB with one page: -ENOMEM
 *   mmap           1 GiB + 4K (rounded up to 2 GiB: -ENOMEM), then 1 GiB: 0
 *   touch          the first write: the reserved page taken
 *   smaps          KernelPageSize, MMUPageSize, Rss, Private_Hugetlb,
 *                  Shared_Hugetlb, and the page's map count
 *                  (/proc/kpagecount of its pagemap PFN) and pagemap's
 *                  exclusive bit (56): see hugetlb1g.test.ts for why a
 *                  singly mapped 1 GiB page can read as Shared_Hugetlb
 *   child-write    a forked child's write: SIGBUS (no page left, the child
 *                  owns no reservation): ret 1 when the child died of it
 *   parent-write   the parent's write after: reuse, ret the byte read back
 *   munmap-split   munmap of 2M inside the page: -EINVAL
 *   munmap         the page back to the pool
 *   zero           nr_hugepages=0: the range back to the buddy allocator
 * nr_hugepages is written back to its old value (0) whatever happens (the
 * test does it too); {"exp":"skip"} when the pool is missing or in use.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "probe.h"

#define GPAGE (1L << 30)
#define DIR "/sys/kernel/mm/hugepages/hugepages-1048576kB/"
#ifndef MAP_HUGE_SHIFT
#define MAP_HUGE_SHIFT 26
#endif
#define HUGE_1GB (30 << MAP_HUGE_SHIFT)
#define HUGE_16MB (24 << MAP_HUGE_SHIFT)

static long old_nr = -1;

#define read_long probe_read_long

/* 0, or -errno of the write (sysfs reports it at the write or the close) */
static long write_long(const char *path, long v) {
    FILE *f = fopen(path, "w");
    if (!f) return -errno;
    setvbuf(f, NULL, _IONBF, 0);
    long r = fprintf(f, "%ld\n", v) > 0 ? 0 : -errno;
    if (fclose(f) != 0 && r == 0) r = -errno;
    return r;
}

static void restore(void) {
    if (old_nr >= 0) write_long(DIR "nr_hugepages", old_nr);
}

static long meminfo(const char *key) {
    FILE *f = fopen("/proc/meminfo", "r");
    char line[256];
    long v = -1;
    size_t n = strlen(key);
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, key, n) == 0 && line[n] == ':') v = atol(line + n + 1);
    if (f) fclose(f);
    return v;
}

static void report(const char *exp, long ret) {
    printf("{\"exp\":\"%s\",\"ret\":%ld,\"nr\":%ld,\"free\":%ld,\"resv\":%ld,\"surplus\":%ld,\"hugetlbKb\":%ld,"
           "\"total2m\":%ld}\n",
           exp, ret, read_long(DIR "nr_hugepages"), read_long(DIR "free_hugepages"),
           read_long(DIR "resv_hugepages"), read_long(DIR "surplus_hugepages"), meminfo("Hugetlb"),
           meminfo("HugePages_Total"));
    fflush(stdout);
}

static void smaps(char *a) {
    FILE *f = fopen("/proc/self/smaps", "r");
    char line[512], want[32];
    long kps = -1, mps = -1, rss = -1, pr = -1, sh = -1;
    int in = 0;
    snprintf(want, sizeof want, "%lx-", (unsigned long)a);
    while (f && fgets(line, sizeof line, f)) {
        if (strncmp(line, want, strlen(want)) == 0) in = 1;
        else if (!in) continue;
        sscanf(line, "KernelPageSize: %ld", &kps);
        sscanf(line, "MMUPageSize: %ld", &mps);
        sscanf(line, "Rss: %ld", &rss);
        sscanf(line, "Private_Hugetlb: %ld", &pr);
        sscanf(line, "Shared_Hugetlb: %ld", &sh);
        if (strncmp(line, "VmFlags:", 8) == 0) break;
    }
    if (f) fclose(f);
    /* the map count the kernel keeps for the folio (kpagecount: folio_mapcount for hugetlb), pagemap's exclusive bit */
    uint64_t e = 0, count = (uint64_t)-1;
    int pm = open("/proc/self/pagemap", O_RDONLY), kc = open("/proc/kpagecount", O_RDONLY);
    if (pm >= 0 && pread(pm, &e, 8, (long)((uintptr_t)a / 4096) * 8) == 8 && (e >> 63 & 1) && kc >= 0)
        if (pread(kc, &count, 8, (long)(e & ((1ULL << 55) - 1)) * 8) != 8) count = (uint64_t)-1;
    if (pm >= 0) close(pm);
    if (kc >= 0) close(kc);
    printf("{\"exp\":\"smaps\",\"KernelPageSize\":%ld,\"MMUPageSize\":%ld,\"Rss\":%ld,\"Private_Hugetlb\":%ld,"
           "\"Shared_Hugetlb\":%ld,\"mapcount\":%ld,\"exclusive\":%d}\n",
           kps, mps, rss, pr, sh, (long)count, (int)(e >> 56 & 1));
    fflush(stdout);
}

static long map(long len, int size) {
    char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | size, -1, 0);
    if (p == MAP_FAILED) return -errno;
    munmap(p, len);
    return 0;
}

int main(void) {
    old_nr = read_long(DIR "nr_hugepages");
    if (old_nr != 0 || read_long("/proc/sys/vm/nr_hugepages") != 0) {
        printf("{\"exp\":\"skip\",\"why\":\"no 1 GiB pool, or a pool in use (nr_hugepages %ld)\"}\n", old_nr);
        return 0;
    }
    atexit(restore);
    report("mmap-empty", map(GPAGE, HUGE_1GB));
    report("mmap-16m", map(1L << 24, HUGE_16MB));
    report("overcommit", write_long(DIR "nr_overcommit_hugepages", 1));
    write_long(DIR "nr_hugepages", 1);
    long got = read_long(DIR "nr_hugepages");
    report("set", got);
    if (got != 1) {
        printf("{\"exp\":\"nospace\"}\n");
        return 0;
    }
    report("mmap-2g", map(GPAGE + 4096, HUGE_1GB));
    char *p = mmap(NULL, GPAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | HUGE_1GB, -1, 0);
    report("mmap", p == MAP_FAILED ? -errno : (long)((unsigned long)p % GPAGE));
    if (p == MAP_FAILED) return 0;
    p[4096] = 0x11;
    report("touch", p[4096]);
    smaps(p);
    pid_t c = fork();
    if (c == 0) {
        p[0] = 0x22; /* no page for the copy: SIGBUS */
        _exit(0);
    }
    int st = 0;
    waitpid(c, &st, 0);
    report("child-write", WIFSIGNALED(st) && WTERMSIG(st) == SIGBUS);
    p[0] = 0x33;
    report("parent-write", p[0] + p[4096]);
    report("munmap-split", munmap(p + (2L << 20), 2L << 20) ? -errno : 0);
    munmap(p, GPAGE);
    report("munmap", 0);
    write_long(DIR "nr_hugepages", 0);
    report("zero", read_long(DIR "nr_hugepages"));
    return 0;
}
