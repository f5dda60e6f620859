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

#define HPAGE (2L << 20)

static long old_nr = -1, old_over = -1;

static long read_long(const char *path) {
    FILE *f = fopen(path, "r");
    long v = -1;
    if (f) {
        if (fscanf(f, "%ld", &v) != 1) v = -1;
        fclose(f);
    }
    return v;
}

static int write_long(const char *path, long v) {
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    int ok = fprintf(f, "%ld\n", v) > 0;
    return fclose(f) == 0 && ok ? 0 : -1;
}

static void restore(void) {
    if (old_over >= 0) write_long("/proc/sys/vm/nr_overcommit_hugepages", old_over);
    if (old_nr >= 0) write_long("/proc/sys/vm/nr_hugepages", old_nr);
}

static void report(const char *exp, long ret) {
    FILE *f = fopen("/proc/meminfo", "r");
    char line[256];
    long total = -1, fr = -1, rsvd = -1, surp = -1;
    while (f && fgets(line, sizeof line, f)) {
        sscanf(line, "HugePages_Total: %ld", &total);
        sscanf(line, "HugePages_Free: %ld", &fr);
        sscanf(line, "HugePages_Rsvd: %ld", &rsvd);
        sscanf(line, "HugePages_Surp: %ld", &surp);
    }
    if (f) fclose(f);
    printf("{\"exp\":\"%s\",\"ret\":%ld,\"total\":%ld,\"free\":%ld,\"rsvd\":%ld,\"surp\":%ld}\n", exp, ret, total,
           fr, rsvd, surp);
    fflush(stdout);
}

/* the smaps fields of the VMA starting at `a`: page sizes, Rss, *_Hugetlb, VmFlags */
static void smaps(const char *exp, char *a) {
    FILE *f = fopen("/proc/self/smaps", "r");
    char line[512], want[32];
    long kps = -1, mps = -1, rss = -1, sh = -1, pr = -1;
    char flags[512] = "";
    int in = 0;
    snprintf(want, sizeof want, "%lx-", (unsigned long)a);
    while (f && fgets(line, sizeof line, f)) {
        if (strncmp(line, want, strlen(want)) == 0) in = 1;
        else if (!in) continue;
        sscanf(line, "KernelPageSize: %ld", &kps);
        sscanf(line, "MMUPageSize: %ld", &mps);
        sscanf(line, "Rss: %ld", &rss);
        sscanf(line, "Shared_Hugetlb: %ld", &sh);
        sscanf(line, "Private_Hugetlb: %ld", &pr);
        if (strncmp(line, "VmFlags:", 8) == 0) {
            snprintf(flags, sizeof flags, "%s", line + 9);
            flags[strcspn(flags, "\n")] = 0;
            break;
        }
    }
    if (f) fclose(f);
    printf("{\"exp\":\"%s\",\"KernelPageSize\":%ld,\"MMUPageSize\":%ld,\"Rss\":%ld,\"Shared_Hugetlb\":%ld,"
           "\"Private_Hugetlb\":%ld,\"VmFlags\":\"%s\"}\n",
           exp, kps, mps, rss, sh, pr, flags);
    fflush(stdout);
}

static sigjmp_buf jb;
static void on_bus(int sig) {
    (void)sig;
    siglongjmp(jb, 1);
}

/* touches page `off` of `a`; 1 if it raised SIGBUS */
static int touch_bus(char *a, long off) {
    if (sigsetjmp(jb, 1)) return 1;
    *(volatile char *)(a + off) = 1;
    return 0;
}

static char *map(long len, int flags) {
    return mmap(NULL, len, PROT_READ | PROT_WRITE, flags | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
}

int main(int argc, char **argv) {
    long n = argc > 1 ? atol(argv[1]) : 4;
    old_nr = read_long("/proc/sys/vm/nr_hugepages");
    old_over = read_long("/proc/sys/vm/nr_overcommit_hugepages");
    if (old_nr != 0 || old_over != 0) {
        /* another user of the pool: its counts would mix with ours */
        printf("{\"exp\":\"skip\",\"why\":\"nr_hugepages %ld, nr_overcommit_hugepages %ld already set\"}\n", old_nr,
               old_over);
        return 0;
    }
    atexit(restore);
    if (write_long("/proc/sys/vm/nr_overcommit_hugepages", 0) != 0 ||
        write_long("/proc/sys/vm/nr_hugepages", n) != 0 || read_long("/proc/sys/vm/nr_hugepages") != n) {
        printf("{\"exp\":\"skip\",\"why\":\"cannot set nr_hugepages to %ld\"}\n", n);
        return 0;
    }
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
