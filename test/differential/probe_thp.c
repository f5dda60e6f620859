/*
 * Differential probe of transparent huge pages across mremap and fork
 * (issue #16): a 4 MiB PMD-aligned anonymous mapping with MADV_HUGEPAGE is
 * written, moved to a PMD-aligned address (move_huge_pmd), then 1 MiB of it
 * is moved (a partial move: the huge PMD is split), a 2 MiB region of 4K
 * pages is moved at PMD granularity (move_normal_pmd), and the process
 * forks. Each step reports its minor faults (getrusage), the AnonHugePages
 * of the mappings involved (/proc/self/smaps) and the change in VmPTE
 * (/proc/self/status, kB) from the start; the fork reports the child's
 * VmPTE against a child forked before any of it. Then a 2 MiB
 * MADV_HUGEPAGE mapping is read (the huge zero page) and one byte of it
 * written, then a byte of another page: a write to the huge zero page
 * maps a new THP in its place (Linux 6.13+ do_huge_zero_wp_pmd; 6.12 split
 * the PMD and copied the written 4K page alone), reported as the mapping's Rss and AnonHugePages (smaps) and
 * the change in /proc/vmstat's thp_split_pmd and thp_fault_alloc (global
 * counters: another process's THP activity would show too). One JSON object
 * per step; thp.test.ts runs the same steps as a .vm scenario and compares.
 *
 * Nothing between two readings allocates or touches memory other than the
 * mappings measured: files are read with read(2) into buffers faulted in
 * first, and all output is printed at the end.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "probe.h"

#define PG 4096L
#define MB (1024L * 1024L)

static char buf[1 << 20];
static char out[1 << 14];
static int outlen;

#define readfile(path) probe_readfile(buf, sizeof buf, path)
#define vmstat(name) probe_vmstat(buf, sizeof buf, name)

static long minflt(void) {
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return u.ru_minflt;
}

/* a "Name:  N kB" field of /proc/self/status */
static long status_kb(const char *name) {
    readfile("/proc/self/status");
    char *p = strstr(buf, name);
    return p ? strtol(p + strlen(name) + 1, NULL, 10) : -1;
}

#define anon_huge_kb(addr) probe_smaps_kb(buf, sizeof buf, addr, "AnonHugePages:")

#define rss_kb(addr) probe_smaps_kb(buf, sizeof buf, addr, "\nRss:")

static void touch(char *p, long bytes) {
    for (long i = 0; i < bytes; i += PG) ((volatile char *)p)[i] = 1;
}

/* the VmPTE (kB) of a child forked now, as it reads it */
static long child_vmpte(void) {
    int fds[2];
    long v = -1;
    if (pipe(fds) != 0) return -1;
    pid_t pid = fork();
    if (pid == 0) {
        long c = status_kb("VmPTE:");
        if (write(fds[1], &c, sizeof c) != sizeof c) _exit(1);
        _exit(0);
    }
    if (read(fds[0], &v, sizeof v) != sizeof v) v = -1;
    waitpid(pid, NULL, 0);
    close(fds[0]);
    close(fds[1]);
    return v;
}

static void *map_at(unsigned long addr, long bytes, int advice) {
    void *p = mmap((void *)addr, bytes, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    if (p == MAP_FAILED || p != (void *)addr) {
        printf("{\"exp\":\"host\",\"skip\":\"mmap at 0x%lx failed\"}\n", addr);
        exit(0);
    }
    madvise(p, bytes, advice);
    return p;
}

static void *move(void *from, long bytes, unsigned long to) {
    void *p = mremap(from, bytes, bytes, MREMAP_MAYMOVE | MREMAP_FIXED, (void *)to);
    if (p != (void *)to) {
        printf("{\"exp\":\"host\",\"skip\":\"mremap to 0x%lx failed\"}\n", to);
        exit(0);
    }
    return p;
}

#define REC(...) (outlen += snprintf(out + outlen, sizeof out - outlen, __VA_ARGS__))

int main(void) {
    readfile("/proc/self/smaps"); /* fault in the buffer */
    memset(out, 0, sizeof out);
    long child0 = child_vmpte();
    long pte0 = status_kb("VmPTE:");
    long f;

    /* 4 MiB at 512 MiB, MADV_HUGEPAGE, every page written */
    char *a = map_at(0x20000000UL, 4 * MB, MADV_HUGEPAGE);
    f = minflt();
    touch(a, 4 * MB);
    f = minflt() - f;
    REC("{\"exp\":\"touch\",\"faults\":%ld,\"huge_kb\":%ld,\"pte_kb\":%ld}\n", f, anon_huge_kb(a),
        status_kb("VmPTE:") - pte0);

    /* the whole of it to 1.5 GiB (another PMD table): move_huge_pmd twice */
    f = minflt();
    char *b = move(a, 4 * MB, 0x60000000UL);
    f = minflt() - f;
    long huge = anon_huge_kb(b), pte = status_kb("VmPTE:") - pte0;
    long f2 = minflt();
    touch(b, 4 * MB);
    f2 = minflt() - f2;
    REC("{\"exp\":\"move\",\"faults\":%ld,\"huge_kb\":%ld,\"pte_kb\":%ld,\"after_faults\":%ld}\n", f, huge,
        pte, f2);

    /* its last 1 MiB to 2.5 GiB: the second huge PMD is split, its PTEs move */
    f = minflt();
    char *c = move(b + 3 * MB, MB, 0xa0000000UL);
    f = minflt() - f;
    huge = anon_huge_kb(b);
    long huge2 = anon_huge_kb(c);
    pte = status_kb("VmPTE:") - pte0;
    f2 = minflt();
    touch(b, 3 * MB);
    touch(c, MB);
    f2 = minflt() - f2;
    REC("{\"exp\":\"split\",\"faults\":%ld,\"huge_kb\":%ld,\"moved_huge_kb\":%ld,\"pte_kb\":%ld,"
        "\"after_faults\":%ld}\n",
        f, huge, huge2, pte, f2);

    /* 2 MiB of 4K pages at 4 GiB (MADV_NOHUGEPAGE) moved to 5 GiB: move_normal_pmd */
    long pteb = status_kb("VmPTE:");
    char *d = map_at(0x100000000UL, 2 * MB, MADV_NOHUGEPAGE);
    f = minflt();
    touch(d, 2 * MB);
    f = minflt() - f;
    long ptet = status_kb("VmPTE:") - pteb;
    f2 = minflt();
    char *e = move(d, 2 * MB, 0x140000000UL);
    f2 = minflt() - f2;
    pte = status_kb("VmPTE:") - pteb;
    long f3 = minflt();
    touch(e, 2 * MB);
    f3 = minflt() - f3;
    REC("{\"exp\":\"pte-move\",\"touch_faults\":%ld,\"touch_pte_kb\":%ld,\"faults\":%ld,\"huge_kb\":%ld,"
        "\"pte_kb\":%ld,\"after_faults\":%ld}\n",
        f, ptet, f2, anon_huge_kb(e), pte, f3);

    /* fork: the child's page tables for all of it, against the first child's */
    REC("{\"exp\":\"fork\",\"child_pte_kb\":%ld,\"pte_kb\":%ld}\n", child_vmpte() - child0,
        status_kb("VmPTE:") - pte0);

    /* 2 MiB at 6 GiB, MADV_HUGEPAGE: a read maps the huge zero page, a write replaces it */
    char *z = map_at(0x180000000UL, 2 * MB, MADV_HUGEPAGE);
    f = minflt();
    volatile char sink = ((volatile char *)z)[0];
    (void)sink;
    f = minflt() - f;
    REC("{\"exp\":\"zero-read\",\"faults\":%ld,\"huge_kb\":%ld,\"rss_kb\":%ld}\n", f, anon_huge_kb(z),
        rss_kb(z));
    long split0 = vmstat("thp_split_pmd"), alloc0 = vmstat("thp_fault_alloc");
    pte = status_kb("VmPTE:");
    f = minflt();
    ((volatile char *)z)[8192] = 5;
    f = minflt() - f;
    long split1 = vmstat("thp_split_pmd"), alloc1 = vmstat("thp_fault_alloc");
    REC("{\"exp\":\"zero-write\",\"faults\":%ld,\"huge_kb\":%ld,\"rss_kb\":%ld,\"pte_kb\":%ld,"
        "\"split_pmd\":%ld,\"fault_alloc\":%ld}\n",
        f, anon_huge_kb(z), rss_kb(z), status_kb("VmPTE:") - pte, split1 - split0, alloc1 - alloc0);
    f = minflt();
    ((volatile char *)z)[MB] = 6;
    f = minflt() - f;
    REC("{\"exp\":\"zero-write2\",\"faults\":%ld,\"huge_kb\":%ld,\"rss_kb\":%ld,\"byte\":%d,\"other\":%d}\n", f,
        anon_huge_kb(z), rss_kb(z), ((volatile char *)z)[8192], ((volatile char *)z)[4096]);
    fputs(out, stdout);
    return 0;
}
