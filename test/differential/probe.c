/*
 * Differential probe: performs system-call sequences on the real kernel and
 * prints what vmlab must reproduce, one JSON object per experiment:
 * minor faults (getrusage, measured around the operations only), present
 * pages (/proc/self/pagemap bit 63), Rss of the mapping (smaps), and the
 * si_code of signals. Built and run by test/differential/linux.test.ts.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#define PG 4096L

static long minflt(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_minflt;
}

static long present(void *addr, long pages) {
    int fd = open("/proc/self/pagemap", O_RDONLY);
    if (fd < 0) return -1;
    long n = 0;
    for (long i = 0; i < pages; i++) {
        uint64_t e = 0;
        off_t off = (off_t)(((uintptr_t)addr / PG) + i) * 8;
        if (pread(fd, &e, 8, off) != 8) { close(fd); return -1; }
        if (e >> 63) n++;
    }
    close(fd);
    return n;
}

static uint64_t zero_pfn;

/* pages of [addr, addr + pages) that are present and are not the shared zero page: Rss of the range */
static long rss_pages(void *addr, long pages) {
    int fd = open("/proc/self/pagemap", O_RDONLY);
    if (fd < 0 || zero_pfn == 0) { if (fd >= 0) close(fd); return -1; }
    long n = 0;
    for (long i = 0; i < pages; i++) {
        uint64_t e = 0;
        off_t off = (off_t)(((uintptr_t)addr / PG) + i) * 8;
        if (pread(fd, &e, 8, off) != 8) { close(fd); return -1; }
        if ((e >> 63) && (e & ((1ULL << 55) - 1)) != zero_pfn) n++;
    }
    close(fd);
    return n;
}

/* the zero page's frame: what a read of an untouched anonymous page maps (0 when PFNs are hidden) */
static uint64_t find_zero_pfn(void) {
    volatile char *z = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    (void)z[0];
    int fd = open("/proc/self/pagemap", O_RDONLY);
    uint64_t e = 0;
    if (fd >= 0 && pread(fd, &e, 8, (off_t)((uintptr_t)z / PG) * 8) == 8) e &= (1ULL << 55) - 1;
    if (fd >= 0) close(fd);
    munmap((void *)z, PG);
    return e;
}

static sigjmp_buf jb;
static volatile int last_code;
static void on_segv(int sig, siginfo_t *si, void *uc) {
    (void)sig; (void)uc;
    last_code = si->si_code;
    siglongjmp(jb, 1);
}

static void touch_read(volatile char *p, long pages) {
    for (long i = 0; i < pages; i++) (void)p[i * PG];
}
static void touch_write(volatile char *p, long pages) {
    for (long i = 0; i < pages; i++) p[i * PG] = 1;
}

static long majflt(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_majflt;
}

/* does /proc/swaps list an area (a line after its header)? */
static int swap_enabled(void) {
    FILE *f = fopen("/proc/swaps", "r");
    if (!f) return 0;
    char line[512];
    int n = 0;
    while (fgets(line, sizeof line, f)) n++;
    fclose(f);
    return n > 1;
}

static void swap_read_write(long n) {
    if (!swap_enabled()) {
        printf("{\"exp\":\"swap-read-write\",\"skip\":\"no swap area is enabled (/proc/swaps lists none), so MADV_PAGEOUT cannot swap\"}\n");
        return;
    }
    char *s = mmap(NULL, n * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    touch_write(s, n);
    if (madvise(s, n * PG, MADV_PAGEOUT) != 0 || present(s, n) != 0) {
        printf("{\"exp\":\"swap-read-write\",\"skip\":\"MADV_PAGEOUT left %ld of %ld pages resident\"}\n", present(s, n), n);
        return;
    }
    long f0 = minflt() + majflt();
    touch_read(s, n);
    long f1 = minflt() + majflt();
    touch_write(s, n);
    long f2 = minflt() + majflt();
    printf("{\"exp\":\"swap-read-write\",\"read\":%ld,\"write\":%ld,\"faults\":%ld}\n", f1 - f0, f2 - f1, f2 - f0);
}

/* smaps LazyFree of the mapping that starts at addr, in pages (-1 if unreadable) */
static long smaps_lazyfree(void *addr) {
    FILE *f = fopen("/proc/self/smaps", "r");
    if (!f) return -1;
    char line[512], head[64];
    snprintf(head, sizeof head, "%lx-", (unsigned long)(uintptr_t)addr);
    int in = 0;
    long kb = -1;
    while (fgets(line, sizeof line, f)) {
        if (strchr(line, '-') && strchr(line, ' ') && strncmp(line, head, strlen(head)) == 0) in = 1;
        else if (in && strncmp(line, "LazyFree:", 9) == 0) { kb = strtol(line + 9, NULL, 10); break; }
    }
    fclose(f);
    return kb < 0 ? -1 : kb / 4;
}

/* 20. MADV_FREE, then some pages written again, then MADV_PAGEOUT (no swap needed): reclaim
   discards the clean lazy-free pages (try_to_unmap_one) and keeps the written ones; the reads
   after it find zero-filled pages where pages were discarded. Pinned to one CPU, so the per-CPU
   LRU batch that folio_mark_lazyfree fills is the one drain_local and MADV_PAGEOUT empty. */
static void pin_cpu(void) {
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(sched_getcpu(), &one);
    sched_setaffinity(0, sizeof one, &one);
}

/* lru_add_drain on this CPU (MADV_COLD starts with it): folio_mark_lazyfree's batch is applied */
static void drain_local(void) {
    static char *scratch;
    if (!scratch) scratch = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    madvise(scratch, PG, MADV_COLD);
}

static void free_pageout(long n) {
    pin_cpu();
    char *p = mmap(NULL, n * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    for (long i = 0; i < n; i++) p[i * PG] = 7;
    madvise(p, n * PG, MADV_FREE);
    drain_local();
    long lazy = smaps_lazyfree(p);
    for (long i = 0; i < n / 4; i++) p[i * PG] = 9;
    int r = madvise(p, n * PG, MADV_PAGEOUT);
    long rss = rss_pages(p, n);
    long f0 = minflt();
    long kept = 0, zero = 0;
    for (long i = 0; i < n; i++) {
        char c = ((volatile char *)p)[i * PG];
        if (c == 9) kept++;
        else if (c == 0) zero++;
    }
    long f1 = minflt();
    printf("{\"exp\":\"free-pageout\",\"ret\":%d,\"lazyfree\":%ld,\"rss\":%ld,\"faults\":%ld,\"kept\":%ld,\"zero\":%ld}\n",
           r, lazy, rss, f1 - f0, kept, zero);
}

/* 21. MADV_FREE of pages a forked child still maps: madvise_free_pte_range skips a shared folio
   only when it is dirty or in the swap cache, so these (never swapped) become lazy-free too */
static void free_shared(long n) {
    char *p = mmap(NULL, n * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    touch_write(p, n);
    int go[2];
    if (pipe(go) != 0) return;
    pid_t c = fork();
    if (c == 0) { char b; close(go[1]); (void)read(go[0], &b, 1); _exit(0); }
    close(go[0]);
    pin_cpu();
    madvise(p, n * PG, MADV_FREE);
    drain_local();
    long lazy = smaps_lazyfree(p);
    close(go[1]);
    int status;
    waitpid(c, &status, 0);
    printf("{\"exp\":\"free-shared\",\"lazyfree\":%ld,\"present\":%ld}\n", lazy, present(p, n));
}

/* 22. shared anonymous memory (shmem) has fault-around: a forked child's reads of pages the
   parent populated fault once per fault_around_bytes window (do_fault_around, filemap_map_pages
   as shmem_anon_vm_ops.map_pages). The mapping starts on a 64 KiB boundary. */
static void shmem_fault_around(long n) {
    char *hint = mmap(NULL, (n + 16) * PG, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    char *al = (char *)(((uintptr_t)hint + 16 * PG - 1) & ~((uintptr_t)16 * PG - 1));
    munmap(hint, (n + 16) * PG);
    char *s = mmap(al, n * PG, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    touch_write(s, n);
    fflush(stdout);
    pid_t c = fork();
    if (c == 0) {
        long f0 = minflt();
        touch_read(s, n);
        long f1 = minflt();
        printf("{\"exp\":\"shmem-fault-around\",\"faults\":%ld,\"present\":%ld}\n", f1 - f0, present(s, n));
        fflush(stdout);
        _exit(0);
    }
    int status;
    waitpid(c, &status, 0);
    munmap(s, n * PG);
}

/* VmPTE of /proc/self/status, in kB */
static long vmpte_kb(void) {
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return -1;
    char line[256];
    long kb = -1;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "VmPTE:", 6) == 0) kb = strtol(line + 6, NULL, 10);
    fclose(f);
    return kb;
}

/* 23. CONFIG_PT_RECLAIM: MADV_DONTNEED frees a PTE table it covered whole and left empty; two
   halves of a table zapped one by one keep it (zap_pte_range, reclaim_pt_is_enabled) */
static void pt_reclaim(void) {
    char *h = mmap(NULL, 8L << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    char *a = (char *)(((uintptr_t)h + (2L << 20) - 1) & ~((uintptr_t)(2L << 20) - 1));
    madvise(h, 8L << 20, MADV_NOHUGEPAGE);
    touch_write(a, 1024);
    long p0 = vmpte_kb();
    madvise(a, 2L << 20, MADV_DONTNEED);
    long p1 = vmpte_kb();
    madvise(a + (2L << 20), 1L << 20, MADV_DONTNEED);
    madvise(a + (3L << 20), 1L << 20, MADV_DONTNEED);
    long p2 = vmpte_kb();
    printf("{\"exp\":\"pt-reclaim\",\"whole\":%ld,\"halves\":%ld}\n", (p1 - p0) / 4, (p2 - p1) / 4);
    munmap(h, 8L << 20);
}

int main(void) {
    const long N = 64; /* 256 KiB: no transparent huge page can be used */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_segv;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGSEGV, &sa, NULL);
    /* warm up what the measurements themselves touch */
    zero_pfn = find_zero_pfn();
    (void)minflt(); (void)present(&sa, 1); (void)rss_pages(&sa, 1);

    /* 1. mmap only reserves */
    long f0 = minflt();
    char *a = mmap(NULL, N * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    long f1 = minflt();
    printf("{\"exp\":\"mmap\",\"faults\":%ld,\"present\":%ld,\"rss\":%ld}\n", f1 - f0, present(a, N), rss_pages(a, N));

    /* 2. reads map the zero page: one fault per page, no RSS */
    f0 = minflt();
    touch_read(a, N);
    f1 = minflt();
    printf("{\"exp\":\"read\",\"faults\":%ld,\"present\":%ld,\"rss\":%ld}\n", f1 - f0, present(a, N), rss_pages(a, N));

    /* 3. writes after reads: one more fault per page, now resident */
    f0 = minflt();
    touch_write(a, N);
    f1 = minflt();
    printf("{\"exp\":\"write-after-read\",\"faults\":%ld,\"present\":%ld,\"rss\":%ld}\n", f1 - f0, present(a, N), rss_pages(a, N));

    /* 4. a first write: one fault per page */
    char *b = mmap(NULL, N * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    f0 = minflt();
    touch_write(b, N);
    f1 = minflt();
    printf("{\"exp\":\"write\",\"faults\":%ld,\"present\":%ld,\"rss\":%ld}\n", f1 - f0, present(b, N), rss_pages(b, N));

    /* 5. populate: one fault per page, counted at mmap time */
    f0 = minflt();
    char *c = mmap(NULL, N * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    f1 = minflt();
    printf("{\"exp\":\"populate\",\"faults\":%ld,\"present\":%ld,\"rss\":%ld}\n", f1 - f0, present(c, N), rss_pages(c, N));

    /* 6. munmap of half: the rest stays */
    munmap(b + (N / 2) * PG, (N / 2) * PG);
    printf("{\"exp\":\"munmap-half\",\"faults\":0,\"present\":%ld,\"rss\":%ld}\n", present(b, N / 2), rss_pages(b, N / 2));

    /* 7. fork: the child's writes to shared pages copy; the parent's then reuse */
    int pfd[2];
    if (pipe(pfd) != 0) return 1;
    pid_t pid = fork();
    if (pid == 0) {
        (void)minflt(); /* the child's own first-touch of its stack and libc data */
        (void)minflt();
        long g0 = minflt();
        touch_write(a, N / 4);
        long g1 = minflt();
        char buf[256];
        int len = snprintf(buf, sizeof buf, "{\"exp\":\"fork-child-write\",\"faults\":%ld,\"present\":%ld,\"rss\":%ld}\n", g1 - g0, present(a, N), rss_pages(a, N));
        if (write(pfd[1], buf, len) != len) _exit(1);
        _exit(0);
    }
    int status;
    waitpid(pid, &status, 0);
    char buf[256];
    long len = read(pfd[0], buf, sizeof buf - 1);
    if (len > 0) { buf[len] = 0; fputs(buf, stdout); }
    f0 = minflt();
    touch_write(a, N);
    f1 = minflt();
    printf("{\"exp\":\"fork-parent-write\",\"faults\":%ld,\"present\":%ld,\"rss\":%ld}\n", f1 - f0, present(a, N), rss_pages(a, N));

    /* 9. MADV_DONTNEED drops half; touching it again faults once per page */
    char *d = mmap(NULL, N * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    touch_write(d, N);
    madvise(d, (N / 2) * PG, MADV_DONTNEED);
    long dn_present = present(d, N), dn_rss = rss_pages(d, N);
    f0 = minflt();
    touch_read(d, N);
    f1 = minflt();
    printf("{\"exp\":\"dontneed\",\"faults\":%ld,\"present\":%ld,\"rss\":%ld}\n", f1 - f0, dn_present, dn_rss);

    /* 10. mlock populates: one (write) fault per page */
    char *l = mmap(NULL, N * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    f0 = minflt();
    int ml = mlock(l, N * PG);
    f1 = minflt();
    printf("{\"exp\":\"mlock\",\"ok\":%d,\"faults\":%ld,\"present\":%ld,\"rss\":%ld}\n", ml == 0, f1 - f0, present(l, N), rss_pages(l, N));

    /* 11. mremap that moves: the pages move with their page-table entries, no fault */
    char *m = mmap(NULL, N * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    touch_write(m, N);
    f0 = minflt();
    char *m2 = mremap(m, N * PG, 4 * N * PG, MREMAP_MAYMOVE);
    f1 = minflt();
    printf("{\"exp\":\"mremap-move\",\"moved\":%d,\"faults\":%ld,\"present\":%ld,\"rss\":%ld}\n", m2 != m, f1 - f0, present(m2, 4 * N), rss_pages(m2, 4 * N));

    /* 12. placement: 2 MiB multiples on a 2 MiB boundary (Linux 6.7+), others not */
    char *p2 = mmap(NULL, 2L << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    char *p3 = mmap(NULL, (2L << 20) + PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    char *p4 = mmap(NULL, 8L << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    printf("{\"exp\":\"placement\",\"a2m\":%d,\"a2m4k\":%d,\"a8m\":%d}\n",
           ((uintptr_t)p2 & ((2 << 20) - 1)) == 0, ((uintptr_t)p3 & ((2 << 20) - 1)) == 0, ((uintptr_t)p4 & ((2 << 20) - 1)) == 0);

    /* 13. MADV_HUGEPAGE: the first write of an aligned 2 MiB takes one fault and makes it all resident */
    madvise(p4, 8L << 20, MADV_HUGEPAGE);
    f0 = minflt();
    p4[0] = 1;
    f1 = minflt();
    printf("{\"exp\":\"thp-write\",\"faults\":%ld,\"present\":%ld,\"rss\":%ld}\n", f1 - f0, present(p4, 512), rss_pages(p4, 512));

    /* 14. mprotect over a hole: the VMA before it changes, then ENOMEM (do_mprotect_pkey) */
    char *h = mmap(NULL, 5 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    munmap(h + 2 * PG, PG);
    int hr = mprotect(h, 5 * PG, PROT_READ);
    int herr = hr ? errno : 0;
    last_code = 0;
    if (sigsetjmp(jb, 1) == 0) h[0] = 1;
    int before = last_code;
    last_code = 0;
    if (sigsetjmp(jb, 1) == 0) h[3 * PG] = 1;
    printf("{\"exp\":\"mprotect-hole\",\"ret\":%d,\"before\":%d,\"after\":%d}\n", hr ? -herr : 0, before, last_code);

    /* 15. mlock of PROT_NONE memory: ENOMEM from the population, nothing mapped */
    char *q = mmap(NULL, 4 * PG, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    int qr = mlock(q, 4 * PG);
    int qerr = qr ? errno : 0;
    printf("{\"exp\":\"mlock-none\",\"ret\":%d,\"present\":%ld}\n", qr ? -qerr : 0, present(q, 4));

    /* 16. MAP_POPULATE of PROT_NONE maps nothing */
    f0 = minflt();
    char *pn = mmap(NULL, N * PG, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    f1 = minflt();
    printf("{\"exp\":\"populate-none\",\"faults\":%ld,\"present\":%ld}\n", f1 - f0, present(pn, N));

    /* 17. fork clears PageAnonExclusive: after the child exits, mprotect RO -> RW leaves the
       parent's pages read-only (can_change_pte_writable), so each write faults once (a reuse);
       the reuse marks them exclusive, and the next RO -> RW keeps them writable */
    char *e = mmap(NULL, N * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    touch_write(e, N);
    pid_t epid = fork();
    if (epid == 0) _exit(0);
    waitpid(epid, &status, 0);
    mprotect(e, N * PG, PROT_READ);
    mprotect(e, N * PG, PROT_READ | PROT_WRITE);
    f0 = minflt();
    touch_write(e, N);
    f1 = minflt();
    printf("{\"exp\":\"fork-exit-mprotect-write\",\"faults\":%ld,\"present\":%ld}\n", f1 - f0, present(e, N));
    mprotect(e, N * PG, PROT_READ);
    mprotect(e, N * PG, PROT_READ | PROT_WRITE);
    f0 = minflt();
    touch_write(e, N);
    f1 = minflt();
    printf("{\"exp\":\"mprotect-again-write\",\"faults\":%ld,\"present\":%ld}\n", f1 - f0, present(e, N));

    /* 18. MADV_FREE cleans the PTEs of exclusive pages; mprotect RO -> RW makes them writable
       again all the same (PageAnonExclusive, clean or dirty): the writes take no fault */
    char *w = mmap(NULL, N * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    touch_write(w, N);
    madvise(w, N * PG, MADV_FREE);
    mprotect(w, N * PG, PROT_READ);
    mprotect(w, N * PG, PROT_READ | PROT_WRITE);
    f0 = minflt();
    touch_write(w, N);
    f1 = minflt();
    printf("{\"exp\":\"free-mprotect-write\",\"faults\":%ld,\"present\":%ld}\n", f1 - f0, present(w, N));

    /* 19. the swap PTE's exclusive marker: a read swap-in of an exclusive page maps it writable,
       so the write after it takes no fault (do_swap_page); needs swap for MADV_PAGEOUT */
    swap_read_write(N);

    free_pageout(N);
    free_shared(N);
    shmem_fault_around(N);
    pt_reclaim();

    /* 8. signals: a write to a read-only page, an access where nothing is mapped */
    mprotect(a, PG, PROT_READ);
    last_code = 0;
    if (sigsetjmp(jb, 1) == 0) a[0] = 2;
    printf("{\"exp\":\"write-readonly\",\"si_code\":%d}\n", last_code);
    last_code = 0;
    if (sigsetjmp(jb, 1) == 0) (void)*(volatile char *)(b + (N / 2) * PG);
    printf("{\"exp\":\"unmapped\",\"si_code\":%d}\n", last_code);
    mprotect(c, PG, PROT_NONE);
    last_code = 0;
    if (sigsetjmp(jb, 1) == 0) (void)*(volatile char *)c;
    printf("{\"exp\":\"prot-none\",\"si_code\":%d}\n", last_code);
    return 0;
}
