/*
 * Differential probe for HugeTLB PMD sharing (mm/hugetlb.c huge_pmd_share,
 * huge_pmd_unshare), run as root: sets /proc/sys/vm/nr_hugepages to 520 and
 * maps 1 GiB of 2 MiB pages MAP_SHARED | MAP_HUGETLB at 1 GiB (a whole
 * PUD_SIZE-aligned range: want_pmd_share), touches two pages and forks. The
 * parent (P) and the child (C) take turns over two pipes; after each step
 * the process that made it prints a JSON line: its minor faults during the
 * step (getrusage), the byte it read (or -1), and from /proc/self/status
 * the change of VmPTE during the step and its HugetlbPages (kB, as printed:
 * a count below zero is a huge unsigned number). The child leaves with
 * _exit (no atexit restore of the pool while the parent still maps it).
 * Prints {"exp":"skip",...} when the pool cannot be set or the address is
 * taken.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "probe_hugetlb.h"

#define MB (1L << 20)
#define BASE ((char *)(1L << 30))

static long minflt(void) {
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return u.ru_minflt;
}

/* a /proc/self/status line's value (kB) as printed, or -1 */
static unsigned long status_kb(const char *name) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    unsigned long v = (unsigned long)-1;
    size_t n = strlen(name);
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, name, n) == 0 && line[n] == ':') sscanf(line + n + 1, "%lu", &v);
    if (f) fclose(f);
    return v;
}

static long flt0, pte0;

static void begin(void) {
    pte0 = (long)status_kb("VmPTE");
    flt0 = minflt();
}

static void step(const char *who, const char *exp, long byte) {
    long flt = minflt() - flt0;
    long pte = (long)status_kb("VmPTE") - pte0;
    printf("{\"who\":\"%s\",\"exp\":\"%s\",\"minflt\":%ld,\"byte\":%ld,\"vmpte\":%ld,\"hugetlb\":\"%lu\"}\n", who, exp,
           flt, byte, pte, status_kb("HugetlbPages"));
    fflush(stdout);
}

/* the turns: the child waits on toC, the parent on toP */
static int toC[2], toP[2];
static int pass(int fd) {
    char c = 1;
    return write(fd, &c, 1) == 1 ? 0 : -1;
}
static int await(int fd) {
    char c;
    return read(fd, &c, 1) == 1 ? 0 : -1;
}

static volatile char sink;

int main(void) {
    (void)smaps, (void)on_bus, (void)touch_bus, (void)report; /* probe_hugetlb.h's, unused here */
    if (set_pool(520) != 0) return 0;
    begin();
    char *b = mmap(BASE, 1L << 30, PROT_READ | PROT_WRITE,
                   MAP_SHARED | MAP_ANONYMOUS | MAP_HUGETLB | MAP_FIXED_NOREPLACE, -1, 0);
    if (b != BASE) {
        printf("{\"exp\":\"skip\",\"why\":\"mmap of 1 GiB at 1 GiB: %s\"}\n", b == MAP_FAILED ? strerror(errno) : "moved");
        return 0;
    }
    b[0] = 0x11;
    b[2 * MB] = 0x22;
    step("P", "touch-two", -1);
    if (pipe(toC) || pipe(toP)) return 1;
    pid_t pid = fork();
    if (pid < 0) return 1;
    if (pid == 0) {
        /* fork copies no page table of libc's text: the child's first call of each wrapper (and
           its lazy binding's GOT write) would be a minor fault counted in a step; take them now */
        (void)!mprotect(b, 0, PROT_READ | PROT_WRITE);
        (void)!madvise(b, 0, MADV_NORMAL);
        (void)!munmap(b, 0);
        begin();
        sink = b[0];
        step("C", "read-0", sink);
        begin();
        b[4 * MB] = 0x33;
        step("C", "write-4M", -1);
        if (pass(toP[1]) || await(toC[0])) _exit(1);
        begin();
        long r = madvise(b + 2 * MB, 2 * MB, MADV_DONTNEED) ? -errno : 0;
        step("C", "dontneed-2M", r);
        begin();
        sink = b[2 * MB];
        step("C", "read-2M", sink);
        begin();
        sink = b[0];
        step("C", "read-0-again", sink);
        begin();
        r = mprotect(b, 1L << 30, PROT_READ) ? -errno : 0;
        step("C", "mprotect-r", r);
        begin();
        sink = b[2 * MB];
        step("C", "read-2M-own", sink);
        begin();
        r = munmap(b, 1L << 30) ? -errno : 0;
        step("C", "munmap", r);
        _exit(0);
    }
    if (await(toP[0])) return 1;
    begin();
    sink = b[4 * MB];
    step("P", "read-4M", sink);
    begin();
    b[6 * MB] = 0x44;
    step("P", "write-6M", -1);
    if (pass(toC[1])) return 1;
    waitpid(pid, NULL, 0);
    begin();
    sink = b[6 * MB];
    step("P", "read-6M", sink);
    begin();
    long r = munmap(b, 1L << 30) ? -errno : 0;
    step("P", "munmap", r);
    return 0;
}
