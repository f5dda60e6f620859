/*
 * Differential probe of anonymous multi-size THP (mTHP): with
 * /sys/kernel/mm/transparent_hugepage/hugepages-64kB/enabled set to madvise
 * (as root; its old value is written back at exit, whatever happens; madvise
 * rather than always so that the machine's other processes, whose faults
 * the stats count too, keep their 4K pages), a 256 KiB anonymous mapping at
 * 0x20000000 with MADV_HUGEPAGE (too small for a PMD THP) is written:
 *   fault:    one write at +20K: one 64K folio, 16 PTEs (alloc_anon_folio)
 *   fallback: with 64kB never, a write at +64K (order 0); then with 64kB
 *             madvise, a write at +80K: its 64K block has a PTE, so order 0
 *   unmap:    munmap of +32K..+64K: the folio is left partially mapped
 *             (deferred_split_folio: split_deferred, nr_anon_partially_mapped)
 * Each step reports the mapping's Rss and AnonHugePages (smaps, kB), the
 * folio layout of its first 32 pages from pagemap and /proc/kpageflags
 * ('H' head of a large folio, 'T' its next tail at the next pfn, '4' a
 * page of no large folio, '-' absent), and the changes of the 64kB stats
 * since the start. One JSON object per step; mthp.test.ts runs the same
 * steps as a scenario and compares.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "probe.h"

#define PG 4096L
#define KB 1024L
#define N 32
#define KNOB "/sys/kernel/mm/transparent_hugepage/hugepages-64kB/enabled"
#define STATS "/sys/kernel/mm/transparent_hugepage/hugepages-64kB/stats/"

static char buf[1 << 20];
static char out[1 << 13];
static int outlen;
static char saved[32];

#define readfile(path) probe_readfile(buf, sizeof buf, path)
#define REC(...) (outlen += snprintf(out + outlen, sizeof out - outlen, __VA_ARGS__))

static int writeknob(const char *v) {
    int fd = open(KNOB, O_WRONLY);
    if (fd < 0) return -1;
    long n = write(fd, v, strlen(v));
    close(fd);
    return n == (long)strlen(v) ? 0 : -1;
}

static void restore(void) {
    if (saved[0]) writeknob(saved);
}

static void on_signal(int sig) {
    restore();
    signal(sig, SIG_DFL);
    raise(sig);
}

#define selected(path, w, size) probe_selected(buf, sizeof buf, path, w, size)

#define stat64k(name) probe_dir_long(buf, sizeof buf, STATS, name)

#define smaps_kb(addr, field) probe_smaps_kb(buf, sizeof buf, addr, field)

/* the folio layout of N pages from a into s (N + 1 bytes); -1 when pagemap or kpageflags cannot be read */
static int layout(char *a, char *s) {
    int pm = open("/proc/self/pagemap", O_RDONLY), kf = open("/proc/kpageflags", O_RDONLY);
    if (pm < 0 || kf < 0) return -1;
    uint64_t prev = 0;
    for (long i = 0; i < N; i++) {
        uint64_t e = 0, f = 0;
        if (pread(pm, &e, 8, (off_t)(((uintptr_t)a / PG) + i) * 8) != 8) return -1;
        uint64_t pfn = e & ((1ULL << 55) - 1);
        if (!(e >> 63)) s[i] = '-';
        else if (pfn == 0) return -1; /* no CAP_SYS_ADMIN: pfns hidden */
        else if (pread(kf, &f, 8, (off_t)pfn * 8) != 8) return -1;
        else if (!(f & (1ULL << 22))) s[i] = '4';
        else if (f & (1ULL << 15)) s[i] = 'H';
        else s[i] = pfn == prev + 1 ? 'T' : 'x';
        prev = pfn;
    }
    s[N] = 0;
    close(pm);
    close(kf);
    return 0;
}

static long f0, fb0, d0, pm0;

static void report(const char *exp, char *a) {
    char s[N + 1];
    if (layout(a, s) < 0) strcpy(s, "unreadable");
    REC("{\"exp\":\"%s\",\"rss_kb\":%ld,\"huge_kb\":%ld,\"layout\":\"%s\",\"fault_alloc\":%ld,"
        "\"fault_fallback\":%ld,\"split_deferred\":%ld,\"partially_mapped\":%ld}\n",
        exp, smaps_kb(a, "\nRss:"), smaps_kb(a, "\nAnonHugePages:"), s, stat64k("anon_fault_alloc") - f0,
        stat64k("anon_fault_fallback") - fb0, stat64k("split_deferred") - d0,
        stat64k("nr_anon_partially_mapped") - pm0);
}

/* the frame at p (pagemap), 0 when absent */
static uint64_t pfn_of(char *p) {
    int pm = open("/proc/self/pagemap", O_RDONLY);
    uint64_t e = 0;
    if (pm < 0 || pread(pm, &e, 8, (off_t)((uintptr_t)p / PG) * 8) != 8) e = 0;
    if (pm >= 0) close(pm);
    return e >> 63 ? e & ((1ULL << 55) - 1) : 0;
}

/* one write fault's new 64K folio at `at` (16 PTEs, MADV_HUGEPAGE); NULL if mmap fails */
static char *folio64(unsigned long at) {
    char *b = mmap((void *)at, 64 * KB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE,
                   -1, 0);
    if (b != (void *)at) return NULL;
    madvise(b, 64 * KB, MADV_HUGEPAGE);
    ((volatile char *)b)[0] = 1;
    return b;
}

/* a write to page i of b: 1 if its frame stayed (reuse), 0 if it changed (copy) */
static int wr(char *b, int i) {
    uint64_t before = pfn_of(b + i * PG);
    ((volatile char *)b)[i * PG] = 2;
    return pfn_of(b + i * PG) == before;
}

/*
 * The write fault on a write-protected PTE of a 64K folio after fork, one
 * fresh folio per experiment (w1, w2, w3: 1 the written page kept its frame
 * (reused), 0 copied, -1 not done):
 *   cow_exit:    the child exits at once; the parent writes pages 3 and 4
 *   cow_unmap:   the child munmaps its whole copy and waits; the parent writes pages 3, 4
 *   cow_partial: the child munmaps pages 0-7 and waits; the parent writes page 10;
 *                the child exits; the parent writes page 11
 *   cow_both:    the parent writes page 3, then the child writes page 3 (w2, the
 *                child's frame); the child exits; the parent writes page 5
 */
static void cow(const char *exp, unsigned long at) {
    char *b = folio64(at);
    int w[3] = {-1, -1, -1}, up[2], down[2];
    char c = 0;
    if (!b || pipe(up) || pipe(down)) return;
    pid_t pid = fork();
    if (pid == 0) {
        if (!strcmp(exp, "cow_exit")) _exit(0);
        if (!strcmp(exp, "cow_unmap")) munmap(b, 64 * KB);
        if (!strcmp(exp, "cow_partial")) munmap(b, 32 * KB);
        if (!strcmp(exp, "cow_both")) {
            if (read(down[0], &c, 1) != 1) _exit(1);
            c = (char)wr(b, 3);
        }
        if (write(up[1], &c, 1) != 1) _exit(1);
        if (read(down[0], &c, 1) != 1) _exit(1);
        _exit(0);
    }
    if (!strcmp(exp, "cow_exit")) {
        waitpid(pid, NULL, 0);
        w[0] = wr(b, 3);
        w[1] = wr(b, 4);
    } else if (!strcmp(exp, "cow_unmap")) {
        if (read(up[0], &c, 1) != 1) return;
        w[0] = wr(b, 3);
        w[1] = wr(b, 4);
    } else if (!strcmp(exp, "cow_partial")) {
        if (read(up[0], &c, 1) != 1) return;
        w[0] = wr(b, 10);
        if (write(down[1], &c, 1) != 1) return;
        waitpid(pid, NULL, 0);
        w[1] = wr(b, 11);
    } else {
        w[0] = wr(b, 3);
        if (write(down[1], &c, 1) != 1 || read(up[0], &c, 1) != 1) return;
        w[1] = c;
    }
    if (write(down[1], &c, 1) != 1) return;
    waitpid(pid, NULL, 0);
    if (!strcmp(exp, "cow_both")) w[2] = wr(b, 5);
    REC("{\"exp\":\"%s\",\"w1\":%d,\"w2\":%d,\"w3\":%d}\n", exp, w[0], w[1], w[2]);
    close(up[0]);
    close(up[1]);
    close(down[0]);
    close(down[1]);
}

int main(void) {
    readfile("/proc/self/smaps"); /* fault in the buffer */
    memset(out, 0, sizeof out);
    char sel[32];
    if (selected(KNOB, sel, sizeof sel) < 0 || stat64k("split_deferred") < 0) {
        printf("{\"exp\":\"host\",\"skip\":\"no hugepages-64kB with stats (a kernel before 6.8-6.12)\"}\n");
        return 0;
    }
    /* every other size below 2M must be never, as in the scenario */
    DIR *d = opendir("/sys/kernel/mm/transparent_hugepage");
    struct dirent *de;
    while (d && (de = readdir(d))) {
        long kb;
        if (sscanf(de->d_name, "hugepages-%ldkB", &kb) != 1 || kb == 64 || kb >= 2048) continue;
        char path[300], w[32];
        snprintf(path, sizeof path, "/sys/kernel/mm/transparent_hugepage/%s/enabled", de->d_name);
        if (selected(path, w, sizeof w) == 0 && strcmp(w, "never") != 0) {
            printf("{\"exp\":\"host\",\"skip\":\"%s is %s here, not never\"}\n", de->d_name, w);
            return 0;
        }
    }
    if (d) closedir(d);
    strcpy(saved, sel);
    atexit(restore);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    signal(SIGSEGV, on_signal);
    signal(SIGBUS, on_signal);
    if (writeknob("madvise") < 0) {
        saved[0] = 0;
        printf("{\"exp\":\"host\",\"skip\":\"cannot write " KNOB " (not root?)\"}\n");
        return 0;
    }
    char *a = mmap((void *)0x20000000UL, 256 * KB, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    if (a != (void *)0x20000000UL) {
        printf("{\"exp\":\"host\",\"skip\":\"mmap at 0x20000000 failed\"}\n");
        return 0;
    }
    madvise(a, 256 * KB, MADV_HUGEPAGE);
    f0 = stat64k("anon_fault_alloc");
    fb0 = stat64k("anon_fault_fallback");
    d0 = stat64k("split_deferred");
    pm0 = stat64k("nr_anon_partially_mapped");
    ((volatile char *)a)[20 * KB] = 1;
    report("fault", a);
    writeknob("never");
    ((volatile char *)a)[64 * KB] = 1;
    writeknob("madvise");
    ((volatile char *)a)[80 * KB] = 1;
    report("fallback", a);
    munmap(a + 32 * KB, 32 * KB);
    report("unmap", a);
    cow("cow_exit", 0x20100000UL);
    cow("cow_unmap", 0x20200000UL);
    cow("cow_partial", 0x20300000UL);
    cow("cow_both", 0x20400000UL);
    restore();
    saved[0] = 0;
    printf("{\"exp\":\"host\"}\n");
    fputs(out, stdout);
    return 0;
}
