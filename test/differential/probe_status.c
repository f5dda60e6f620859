/*
 * Differential probe of /proc/self/status's memory lines and their
 * high-water marks (fs/proc/task_mmu.c task_mem; update_hiwater_rss and
 * update_hiwater_vm): one sequence of mmap, touch, munmap, MADV_DONTNEED,
 * mremap, mlock and fork, and after each step the status lines (kB) as one
 * JSON object. The host process has libc's mappings, so status.test.ts
 * compares changes from the first record, and the marks as their excess
 * over the current value (VmHWM - VmRSS, VmPeak - VmSize). The sequence
 * runs twice: the first run (other addresses) faults in the code and libc
 * pages the second then needs, and "clear_refs 5" (reset_mm_hiwater_rss)
 * starts the second with VmHWM = VmRSS. A big untouched reservation first
 * lifts VmSize past any peak the process start left.
 */
#define _GNU_SOURCE
#include "probe.h"
#include <sched.h>
#include <sys/wait.h>

#define PG 4096L
static char buf[1 << 16];
static const char *F[] = {"VmPeak", "VmSize", "VmLck", "VmHWM", "VmRSS", "RssAnon", "RssFile",
                          "RssShmem", "VmData", "VmStk", "VmLib", "VmSwap"};
#define NF (int)(sizeof F / sizeof F[0])
static long rec[32][NF];
static const char *names[32];
static int nrec;

static void status(long *out) {
    probe_readfile(buf, sizeof buf, "/proc/self/status");
    for (int i = 0; i < NF; i++) {
        char key[32];
        snprintf(key, sizeof key, "\n%s:", F[i]);
        char *p = strstr(buf, key);
        out[i] = p ? strtol(p + strlen(key), NULL, 10) : -1;
    }
}

static void report(const char *name, int real) {
    static long scratch[NF];
    if (!real) { status(scratch); return; } /* the warm-up run reads too: the same code pages */
    names[nrec] = name;
    status(rec[nrec++]);
}

static void touch(char *a, long pages) {
    for (long i = 0; i < pages; i++) a[i * PG] = 1;
}

static char *map_at(unsigned long addr, long pages, int prot, int flags) {
    char *a = mmap((void *)addr, pages * PG, prot, flags | MAP_FIXED_NOREPLACE, -1, 0);
    if (a == MAP_FAILED) { perror("mmap"); exit(1); }
    return a;
}

static void sequence(unsigned long base, int real) {
    int rw = PROT_READ | PROT_WRITE, priv = MAP_PRIVATE | MAP_ANONYMOUS;
    if (real) {
        int fd = open("/proc/self/clear_refs", O_WRONLY);
        if (fd < 0 || write(fd, "5", 1) != 1) { printf("{\"exp\":\"skip\",\"why\":\"clear_refs\"}\n"); exit(0); }
        close(fd);
    }
    long resv = real ? 16384 : 4096; /* 64 MiB (16 in the warm-up), untouched */
    char *res = map_at(base, resv, rw, priv | MAP_NORESERVE);
    report("base", real);
    /* at the peak so far: a move's transient old + new size must not become VmPeak (move_vma) */
    char *m = map_at(base + 0x60000000, 32, rw, priv);
    touch(m, 32);
    map_at(base + 0x60000000 + 32 * PG, 1, PROT_READ, priv); /* blocks growth in place */
    char *mv = mremap(m, 32 * PG, 64 * PG, MREMAP_MAYMOVE | MREMAP_FIXED, (void *)(base + 0x70000000));
    if (mv == MAP_FAILED) { perror("mremap"); exit(1); }
    report("mremap", real);
    char *a = map_at(base + 0x10000000, 2048, rw, priv);
    touch(a, 2048);
    report("touch", real);
    munmap(a + 1024 * PG, 1024 * PG);
    report("munmap", real);
    char *b = map_at(base + 0x20000000, 512, rw, priv);
    touch(b, 512);
    report("grow", real);
    madvise(b, 256 * PG, MADV_DONTNEED);
    report("dontneed", real);
    char *x = map_at(base + 0x30000000, 8, PROT_READ | PROT_EXEC, priv);
    char *ro = map_at(base + 0x38000000, 8, PROT_READ, priv);
    report("exec-ro", real);
    char *s = map_at(base + 0x40000000, 16, rw, MAP_SHARED | MAP_ANONYMOUS);
    touch(s, 16);
    report("shared", real);
    char *l = map_at(base + 0x50000000, 8, rw, priv);
    mlock(l, 8 * PG);
    report("mlock", real);
    munmap(res, resv * PG);
    report("unreserve", real);
    mprotect(b + 256 * PG, 256 * PG, PROT_READ);
    report("mprotect", real);
    if (real) {
        /* the child reports its own status through a pipe: its marks start at its own */
        int p[2];
        if (pipe(p) != 0) exit(1);
        pid_t c = fork();
        if (c == 0) {
            long r[NF];
            status(r);
            if (write(p[1], r, sizeof r) != sizeof r) _exit(1);
            _exit(0);
        }
        names[nrec] = "fork-child";
        if (read(p[0], rec[nrec++], sizeof rec[0]) != sizeof rec[0]) exit(1);
        waitpid(c, NULL, 0);
    }
    munmap(a, 1024 * PG); munmap(b, 512 * PG); munmap(x, 8 * PG); munmap(ro, 8 * PG);
    munmap(s, 16 * PG); munmap(l, 8 * PG); munmap(mv, 64 * PG);
    munmap((void *)(base + 0x60000000 + 32 * PG), PG);
}

int main(void) {
    /* one CPU: the RSS counters' per-CPU parts (percpu_counter batches) move on it alone */
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(0, &one);
    sched_setaffinity(0, sizeof one, &one);
    sequence(0x100000000000UL, 0);
    sequence(0x200000000000UL, 1);
    for (int r = 0; r < nrec; r++) {
        printf("{\"exp\":\"%s\"", names[r]);
        for (int i = 0; i < NF; i++) printf(",\"%s\":%ld", F[i], rec[r][i]);
        printf("}\n");
    }
    return 0;
}
