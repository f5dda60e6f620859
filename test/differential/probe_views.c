/*
 * Differential probe of the kernel's own views: runs one access pattern on
 * the real kernel and prints, per experiment, what /proc/self/pagemap says
 * of each page (the flag bits 55-63 and what the frame is: none, the zero
 * page, or a frame), what /proc/kpageflags says of that frame (when this
 * process may read it), and the mapping's /proc/self/smaps block (its
 * kB fields and VmFlags). One JSON object per experiment; linux.views.test.ts
 * runs the same pattern as a .vm scenario and compares field by field.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102
#endif

#define PG 4096L
#define N 16

static uint64_t zero_pfn;
static int kpf_fd = -1;

static uint64_t pagemap_entry(void *addr) {
    int fd = open("/proc/self/pagemap", O_RDONLY);
    uint64_t e = 0;
    if (fd >= 0) {
        if (pread(fd, &e, 8, (off_t)((uintptr_t)addr / PG) * 8) != 8) e = 0;
        close(fd);
    }
    return e;
}

/* the frame's /proc/kpageflags entry, or -1 when it cannot be read */
static long long kpageflags(uint64_t pfn) {
    uint64_t f = 0;
    if (kpf_fd < 0 || pfn == 0) return -1;
    if (pread(kpf_fd, &f, 8, (off_t)pfn * 8) != 8) return -1;
    return (long long)f;
}

/* the /proc/self/smaps block of the mapping that starts at addr, as "Name":kB pairs and VmFlags */
static void smaps_json(void *addr) {
    FILE *f = fopen("/proc/self/smaps", "r");
    char line[512], head[32];
    int in = 0, first = 1;
    snprintf(head, sizeof head, "%lx-", (unsigned long)(uintptr_t)addr);
    printf("\"smaps\":{");
    while (f && fgets(line, sizeof line, f)) {
        unsigned long lo, hi;
        line[strcspn(line, "\n")] = 0;
        if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2) { /* a maps line: the start of a block */
            in = strncmp(line, head, strlen(head)) == 0;
            continue;
        }
        if (!in) continue;
        char *colon = strchr(line, ':');
        if (!colon) continue;
        *colon = 0;
        char *v = colon + 1;
        while (*v == ' ') v++;
        if (strcmp(line, "VmFlags") == 0) {
            size_t l = strlen(v);
            while (l && v[l - 1] == ' ') v[--l] = 0;
            printf("%s\"VmFlags\":\"%s\"", first ? "" : ",", v);
        } else {
            printf("%s\"%s\":%ld", first ? "" : ",", line, strtol(v, NULL, 10));
        }
        first = 0;
    }
    if (f) fclose(f);
    printf("}");
}

/* one experiment: per page [pagemap flags (bits 55-63), frame class, kpageflags], then smaps */
static void report(const char *exp, void *addr, long pages) {
    printf("{\"exp\":\"%s\",\"pages\":[", exp);
    for (long i = 0; i < pages; i++) {
        uint64_t e = pagemap_entry((char *)addr + i * PG);
        uint64_t pfn = e & ((1ULL << 55) - 1);
        const char *frame = "none";
        long long kpf = -1;
        if (e >> 63) {
            frame = pfn == 0 ? "hidden" : pfn == zero_pfn ? "zero" : "frame";
            if (pfn != 0) kpf = kpageflags(pfn);
        } else if ((e >> 62) & 1) {
            frame = "swap";
        }
        printf("%s{\"flags\":%llu,\"frame\":\"%s\",\"kpf\":%lld}", i ? "," : "",
               (unsigned long long)(e >> 55), frame, kpf);
    }
    printf("],");
    smaps_json(addr);
    printf("}\n");
    fflush(stdout);
}

/* each experiment's mapping at its own address, 1 MiB apart (REGION(i)), so that no neighbour
   merges into its VMA and smaps reports it alone; the scenario maps the same addresses */
#define REGION(i) ((void *)(0x10000000UL + (unsigned long)(i) * 0x100000UL))
static void *at(int i, long pages, int flags) {
    void *p = mmap(REGION(i), pages * PG, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_FIXED_NOREPLACE | flags, -1, 0);
    if (p != REGION(i)) {
        printf("{\"exp\":\"host\",\"skip\":\"%p is taken in this process\"}\n", REGION(i));
        exit(0);
    }
    return p;
}
static void *anon(long pages, int flags) {
    return mmap(NULL, pages * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | flags, -1, 0);
}
static void touch_read(volatile char *p, long pages) {
    for (long i = 0; i < pages; i++) (void)p[i * PG];
}
static void touch_write(volatile char *p, long pages) {
    for (long i = 0; i < pages; i++) p[i * PG] = 1;
}

/* lru_add_drain on this CPU: folios wait in a per-CPU batch before PG_lru is set (mm/swap.c);
   madvise_cold drains it first. The probe runs on one CPU so that this is its batch. */
static void drain(void) {
    static char *spare;
    if (!spare) spare = anon(1, 0);
    madvise(spare, PG, MADV_COLD);
}

int main(void) {
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(sched_getcpu(), &one);
    sched_setaffinity(0, sizeof one, &one);
    kpf_fd = open("/proc/kpageflags", O_RDONLY);
    {
        volatile char *z = anon(1, 0);
        (void)z[0];
        zero_pfn = pagemap_entry((void *)z) & ((1ULL << 55) - 1);
        munmap((void *)z, PG);
    }
    printf("{\"exp\":\"host\",\"pfns\":%d,\"kpageflags\":%d}\n", zero_pfn != 0, kpageflags(zero_pfn) >= 0);

    /* 1. a mapping nothing touched */
    char *u = at(0, N, MAP_PRIVATE);
    report("untouched", u, N);

    /* 2. reads of untouched anonymous memory map the shared zero page */
    char *r = at(1, N, MAP_PRIVATE);
    touch_read(r, N);
    drain();
    report("read", r, N);

    /* 3. first writes: a private page each, mapped once */
    char *w = at(2, N, MAP_PRIVATE);
    touch_write(w, N);
    drain();
    report("write", w, N);

    /* 4. fork: while the child lives every page is mapped twice; the child writes the first
       quarter (copies) and exits; the parent's pages are mapped once again */
    char *f = at(3, N, MAP_PRIVATE);
    touch_write(f, N);
    int go[2], done[2];
    if (pipe(go) || pipe(done)) return 1;
    pid_t pid = fork();
    if (pid == 0) {
        char c;
        if (read(go[0], &c, 1) != 1) _exit(1);
        touch_write(f, N / 4);
        if (write(done[1], "x", 1) != 1) _exit(1);
        if (read(go[0], &c, 1) != 1) _exit(1);
        _exit(0);
    }
    drain();
    report("fork-shared", f, N);
    if (write(go[1], "x", 1) != 1) return 1;
    char c;
    if (read(done[0], &c, 1) != 1) return 1;
    report("fork-child-wrote", f, N);
    if (write(go[1], "x", 1) != 1) return 1;
    waitpid(pid, NULL, 0);
    report("fork-child-exited", f, N);
    touch_write(f, N);
    report("fork-parent-wrote", f, N);

    /* 5. shared anonymous memory is shmem: file-backed as pagemap sees it */
    char *s = at(4, N, MAP_SHARED);
    touch_write(s, N);
    drain();
    report("shared-anon", s, N);

    /* 6. MAP_POPULATE and mlock populate; mlock makes the pages unevictable */
    char *p = at(5, N, MAP_PRIVATE | MAP_POPULATE);
    drain();
    report("populate", p, N);
    char *l = at(6, N, MAP_PRIVATE);
    int ml = mlock(l, N * PG);
    drain();
    if (ml == 0) report("mlock", l, N);
    else printf("{\"exp\":\"mlock\",\"skip\":\"mlock failed (RLIMIT_MEMLOCK)\"}\n");

    /* 7. MADV_DONTNEED drops the first half */
    char *d = at(7, N, MAP_PRIVATE);
    touch_write(d, N);
    madvise(d, (N / 2) * PG, MADV_DONTNEED);
    drain();
    report("dontneed", d, N);

    /* 8. MADV_FREE: lazily freed pages, clean PTEs */
    char *lf = at(8, N, MAP_PRIVATE);
    touch_write(lf, N);
    drain();
    madvise(lf, N * PG, MADV_FREE);
    drain();
    report("free", lf, N);

    /* 9. guard regions (Linux 6.13): marker PTEs over the middle pages */
    char *g = at(9, N, MAP_PRIVATE);
    touch_write(g, N);
    if (madvise(g + 4 * PG, 4 * PG, MADV_GUARD_INSTALL) == 0) {
        drain();
        report("guard", g, N);
    } else {
        printf("{\"exp\":\"guard\",\"skip\":\"MADV_GUARD_INSTALL is not supported (Linux before 6.13)\"}\n");
    }

    /* 10. MADV_HUGEPAGE over an aligned 2 MiB (REGION(10) is): the first write maps a
       transparent huge page when the kernel has a free 2 MiB block (else 4K pages) */
    char *t = at(10, 512, MAP_PRIVATE);
    madvise(t, 2L << 20, MADV_HUGEPAGE);
    t[0] = 1;
    drain();
    report("thp", t, N);
    return 0;
}
