/*
 * Differential probe for HugeTLB pages (mm/hugetlb.c), run as root: sets
 * /proc/sys/vm/nr_hugepages to 4 (nr_overcommit_hugepages to 0), then
 * prints /proc/meminfo's HugePages_Total, _Free, _Rsvd and _Surp as a JSON
 * line after each step: a private MAP_HUGETLB mapping of 2M + 4K (rounded
 * up to 4M: mmap, first touch), fork with the child's write (COW, counted
 * in the child before it exits) and after its exit, a shared 2M mapping
 * touched by a child and then by the parent, an mmap the pool cannot cover
 * (ENOMEM), a MAP_NORESERVE mapping touched until SIGBUS, nr_hugepages=0
 * with folios in use (they become surplus), then the munmaps (one of a
 * misaligned range: EINVAL). After the shared mapping's touches, the smaps
 * fields of both mappings (KernelPageSize, MMUPageSize, Rss,
 * Shared_Hugetlb, Private_Hugetlb, VmFlags) as lines of their own. The old nr_hugepages and
 * nr_overcommit_hugepages are written back before it exits (the test
 * writes them back too). argv[1], if given, is the count to set (default 4).
 * Prints {"exp":"skip",...} when the pool cannot be set.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "probe_hugetlb.h"

static char *map(long len, int flags) {
    return mmap(NULL, len, PROT_READ | PROT_WRITE, flags | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
}

int main(int argc, char **argv) {
    long n = argc > 1 ? atol(argv[1]) : 4;
    if (set_pool(n) != 0) return 0;
    report("set", n);

    char *p = map(HPAGE + 4096, MAP_PRIVATE); /* the length rounds up to 2 huge pages */
    if (p == MAP_FAILED) {
        report("private-mmap-failed", -errno);
        return 0;
    }
    report("private-mmap", 0);
    p[0] = 1;
    report("private-touch", 0);

    pid_t c = fork();
    if (c == 0) {
        p[0] = 3; /* COW: a folio without reservation */
        report("child-cow", p[0]);
        _exit(0);
    }
    waitpid(c, NULL, 0);
    report("child-exit", p[0]);

    char *s = map(HPAGE, MAP_SHARED);
    report("shared-mmap", s == MAP_FAILED ? -errno : 0);
    if (s == MAP_FAILED) return 0;
    c = fork();
    if (c == 0) {
        s[0] = 5;
        report("shared-child-touch", s[0]);
        _exit(0);
    }
    waitpid(c, NULL, 0);
    report("shared-child-exit", 0);
    s[1] = 6;
    report("shared-parent-touch", s[0]);
    smaps("smaps-private", p);
    smaps("smaps-shared", s);

    char *big = map(4 * HPAGE, MAP_PRIVATE);
    report("enomem", big == MAP_FAILED ? -errno : 0);

    signal(SIGBUS, on_bus);
    char *nr = map(4 * HPAGE, MAP_PRIVATE | MAP_NORESERVE);
    report("noreserve-mmap", nr == MAP_FAILED ? -errno : 0);
    if (nr == MAP_FAILED) return 0;
    int bus = 0;
    long i = 0;
    for (; i < 4 && !bus; i++) bus = touch_bus(nr, i * HPAGE);
    report("noreserve-touch", bus ? i : 0);

    write_long("/proc/sys/vm/nr_hugepages", 0);
    report("shrink", read_long("/proc/sys/vm/nr_hugepages"));
    munmap(nr, 4 * HPAGE);
    report("munmap-noreserve", 0);
    munmap(s, HPAGE);
    report("munmap-shared", 0);
    int r = munmap(p + 4096, 4096);
    report("munmap-misaligned", r ? -errno : 0);
    munmap(p, 2 * HPAGE);
    report("munmap-private", 0);
    return 0;
}
