/*
 * Differential probe of MADV_COLLAPSE (mm/khugepaged.c madvise_collapse):
 * 2 MiB PMD-aligned anonymous regions (no MADV_HUGEPAGE: with THP in
 * `madvise` mode their faults map 4K pages and khugepaged leaves them
 * alone) are written page by page, or in part, or not at all, then
 * collapsed. Each step reports madvise's result (0 or -errno), the
 * region's AnonHugePages and Rss (/proc/self/smaps, kB), the change in
 * /proc/vmstat's thp_collapse_alloc (a global counter: another process's
 * collapse would show too) and bytes read back at a few offsets. One JSON
 * object per step; collapse.test.ts runs the same steps as a .vm scenario.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "probe.h"

#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE 25
#endif

#define PG 4096L
#define MB (1024L * 1024L)

static char buf[1 << 20];
static char out[1 << 14];
static int outlen;

#define readfile(path) probe_readfile(buf, sizeof buf, path)
#define vmstat(name) probe_vmstat(buf, sizeof buf, name)

#define smaps_kb(addr, field) probe_smaps_kb(buf, sizeof buf, addr, field)

static char *map_at(unsigned long addr, long bytes) {
    void *p = mmap((void *)addr, bytes, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    if (p == MAP_FAILED || p != (void *)addr) {
        printf("{\"exp\":\"host\",\"skip\":\"mmap at 0x%lx failed\"}\n", addr);
        exit(0);
    }
    return p;
}

/* every page of [p, p + bytes) written: the byte at each page's offset 17 is the page's number + v */
static void fill(char *p, long bytes, int v) {
    for (long i = 0; i < bytes; i += PG) ((volatile char *)p)[i + 17] = (char)(i / PG + v);
}

static long collapse(char *p, long bytes) {
    return madvise(p, bytes, MADV_COLLAPSE) == 0 ? 0 : -errno;
}

#define REC(...) (outlen += snprintf(out + outlen, sizeof out - outlen, __VA_ARGS__))

/* one step: collapse [p + off, p + off + bytes) of the 2 MiB region at p and report */
static void step(const char *exp, char *p, long off, long bytes) {
    long a0 = vmstat("thp_collapse_alloc");
    long r = collapse(p + off, bytes);
    long a1 = vmstat("thp_collapse_alloc");
    REC("{\"exp\":\"%s\",\"ret\":%ld,\"huge_kb\":%ld,\"rss_kb\":%ld,\"alloc\":%ld,\"b0\":%d,\"b1\":%d,"
        "\"b300\":%d,\"b511\":%d}\n",
        exp, r, smaps_kb(p, "AnonHugePages:"), smaps_kb(p, "\nRss:"), a1 - a0, (unsigned char)p[17],
        (unsigned char)p[PG + 17], (unsigned char)p[300 * PG + 17], (unsigned char)p[511 * PG + 17]);
}

int main(void) {
    readfile("/proc/self/smaps"); /* fault in the buffer */
    memset(out, 0, sizeof out);
    if (vmstat("thp_collapse_alloc") < 0) {
        printf("{\"exp\":\"host\",\"skip\":\"no thp_collapse_alloc in /proc/vmstat\"}\n");
        return 0;
    }

    /* every page written, one by one: one huge page */
    char *a = map_at(0x20000000UL, 2 * MB);
    fill(a, 2 * MB, 1);
    step("full", a, 0, 2 * MB);

    /* the first 1 MiB written: max_ptes_none does not apply, the rest is zeros */
    char *b = map_at(0x20400000UL, 2 * MB);
    fill(b, MB, 3);
    step("hole", b, 0, 2 * MB);

    /* nothing written: no page table under the PMD */
    char *c = map_at(0x20800000UL, 2 * MB);
    step("empty", c, 0, 2 * MB);

    /* two pages inside one PMD, from its second page: no whole PMD */
    char *d = map_at(0x20c00000UL, 2 * MB);
    fill(d, 2 * MB, 5);
    step("inside", d, PG, 2 * PG);

    /* the same, from the PMD's start */
    step("inside_aligned", d, 0, 2 * PG);

    /* MADV_NOHUGEPAGE */
    char *e = map_at(0x21000000UL, 2 * MB);
    fill(e, 2 * MB, 7);
    madvise(e, 2 * MB, MADV_NOHUGEPAGE);
    step("nohuge", e, 0, 2 * MB);

    /* shared with a child after fork, read-only in both: no writable PTE */
    char *g = map_at(0x21400000UL, 2 * MB);
    fill(g, 2 * MB, 9);
    char *h = map_at(0x21800000UL, 2 * MB);
    fill(h, 2 * MB, 11);
    int fds[2];
    if (pipe(fds) != 0) return 1;
    pid_t pid = fork();
    if (pid == 0) {
        char x;
        if (read(fds[0], &x, 1) != 1) _exit(1);
        /* the child's bytes, unchanged by the parent's collapse */
        _exit(g[300 * PG + 17] == (char)(300 + 9) && h[300 * PG + 17] == (char)(300 + 11) &&
                      h[5 * PG + 17] == (char)(5 + 11)
                  ? 0
                  : 3);
    }
    step("fork_ro", g, 0, 2 * MB);
    /* one page written by the parent (copied): a writable PTE, the rest shared */
    ((volatile char *)h)[5 * PG + 17] = 42;
    step("fork_shared", h, 0, 2 * MB);
    if (write(fds[1], "x", 1) != 1) return 1;
    int st = 0;
    waitpid(pid, &st, 0);
    REC("{\"exp\":\"fork_child\",\"intact\":%d}\n", WIFEXITED(st) && WEXITSTATUS(st) == 0);
    fputs(out, stdout);
    return 0;
}
