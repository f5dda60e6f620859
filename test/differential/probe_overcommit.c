/*
 * Committed_AS (vm_committed_as) against the system calls that charge it,
 * on this machine's kernel: each experiment makes one change and prints the
 * change of /proc/meminfo's Committed_AS in kB, the median of REPS tries
 * (other processes move the machine-wide figure too). The experiments:
 * private writable, MAP_NORESERVE and read-only mmaps; mprotect to writable,
 * back to read-only untouched and touched; shared anonymous mmaps with and
 * without MAP_NORESERVE and their munmap; brk; mremap growing a private
 * mapping; MAP_FIXED over an accounted mapping; shmget with and without
 * SHM_NORESERVE and IPC_RMID; a stack grown by a fault (with the stack
 * VMA's growth) and VmFlags of the mprotected mappings. And a memfd's pages
 * (VM_NORESERVE: each charged as it is allocated, shmem_acct_blocks):
 * write(2) of 16M into a 32M memfd, 16M faulted through a shared mapping,
 * FALLOC_FL_PUNCH_HOLE of 8M of 16M written, ftruncate to 0 of 16M
 * written, ftruncate growing it (no page: no charge).
 */
#define _GNU_SOURCE
#include "probe.h"
#include <sys/ipc.h>
#include <sys/shm.h>

#define REPS 7
#define SZ (64L << 20)
#define M16 (16L << 20)

static char buf[1 << 20];
/* the source of the memfd writes: in the bss, charged with the program */
static char src[16 << 20];

/* a memfd of `size` bytes with its first `written` bytes written by write(2) */
static int memfd(long size, long written) {
    int fd = memfd_create("probe", 0);
    if (fd < 0 || ftruncate(fd, size) != 0) return -1;
    if (written > 0 && pwrite(fd, src, written, 0) != written) return -1;
    return fd;
}

/* writes one byte of each page of [p, p + n) */
static void touch(char *p, long n) {
    for (long i = 0; i < n; i += 4096) p[i] = 1;
}

static long committed_kb(void) {
    return probe_meminfo_kb(buf, sizeof buf, "\nCommitted_AS:");
}

static long median(long *v) {
    return probe_median(v, REPS);
}

/* an anonymous mapping far from every other, so that it merges with none (as vmlab's) */
static char *map(long size, int prot, int flags) {
    static unsigned long next = 0x200000000000UL;
    char *p = mmap((void *)next, size, prot, flags | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    next += 1UL << 36;
    return p == MAP_FAILED ? NULL : p;
}

/* the VmFlags line of the mapping at p, as text */
static void vmflags(char *out, long n, void *p) {
    char head[32];
    out[0] = 0;
    probe_readfile(buf, sizeof buf, "/proc/self/smaps");
    snprintf(head, sizeof head, "\n%lx-", (unsigned long)p);
    char *s = strstr(buf, head);
    if (!s) return;
    char *q = strstr(s, "VmFlags: ");
    if (!q) return;
    q += 9;
    long i = 0;
    while (q[i] && q[i] != '\n' && i < n - 1) { out[i] = q[i]; i++; }
    while (i > 0 && out[i - 1] == ' ') i--;
    out[i] = 0;
}

#define EXP(name, body)                                  \
    do {                                                 \
        long d[REPS];                                    \
        for (int r = 0; r < REPS; r++) { body }          \
        printf("{\"exp\":\"%s\",\"kb\":%ld}\n", name, median(d)); \
    } while (0)

/* the change of Committed_AS over `step` (a statement), into d[r] */
#define DELTA(pre, step, post)             \
    pre long c0 = committed_kb(); step     \
    d[r] = committed_kb() - c0; post

static long stack_grow(void) {
    /* a fault 1 MiB below this frame grows the stack VMA */
    volatile char big[1 << 20];
    big[0] = 1;
    return big[0];
}

int main(void) {
    char f1[256], f2[256];
    EXP("mmap_private", DELTA(char *p;, p = map(SZ, PROT_READ | PROT_WRITE, MAP_PRIVATE);, munmap(p, SZ);));
    EXP("mmap_noreserve", DELTA(char *p;, p = map(SZ, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_NORESERVE);, munmap(p, SZ);));
    EXP("mmap_readonly", DELTA(char *p;, p = map(SZ, PROT_READ, MAP_PRIVATE);, munmap(p, SZ);));
    EXP("munmap_private", DELTA(char *p = map(SZ, PROT_READ | PROT_WRITE, MAP_PRIVATE);, munmap(p, SZ);, ;));
    EXP("mprotect_rw", DELTA(char *p = map(SZ, PROT_READ, MAP_PRIVATE);, mprotect(p, SZ, PROT_READ | PROT_WRITE);, munmap(p, SZ);));
    EXP("mprotect_ro_untouched", DELTA(char *p = map(SZ, PROT_READ | PROT_WRITE, MAP_PRIVATE);, mprotect(p, SZ, PROT_READ);, munmap(p, SZ);));
    EXP("mprotect_ro_touched", DELTA(char *p = map(SZ, PROT_READ | PROT_WRITE, MAP_PRIVATE); p[0] = 1;, mprotect(p, SZ, PROT_READ);, munmap(p, SZ);));
    {
        char *p = map(SZ, PROT_READ | PROT_WRITE, MAP_PRIVATE);
        mprotect(p, SZ, PROT_READ);
        vmflags(f1, sizeof f1, p);
        char *q = map(SZ, PROT_READ | PROT_WRITE, MAP_PRIVATE);
        q[0] = 1;
        mprotect(q, SZ, PROT_READ);
        vmflags(f2, sizeof f2, q);
        printf("{\"exp\":\"vmflags\",\"untouched\":\"%s\",\"touched\":\"%s\"}\n", f1, f2);
        munmap(p, SZ);
        munmap(q, SZ);
    }
    EXP("mmap_shared", DELTA(char *p;, p = map(SZ, PROT_READ | PROT_WRITE, MAP_SHARED);, munmap(p, SZ);));
    EXP("mmap_shared_noreserve", DELTA(char *p;, p = map(SZ, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE);, munmap(p, SZ);));
    EXP("munmap_shared", DELTA(char *p = map(SZ, PROT_READ | PROT_WRITE, MAP_SHARED); p[0] = 1;, munmap(p, SZ);, ;));
    EXP("brk", DELTA(char *b = sbrk(0);, sbrk(SZ);, brk(b);));
    EXP("mremap_grow", DELTA(char *p = map(SZ, PROT_READ | PROT_WRITE, MAP_PRIVATE); char *q;, q = mremap(p, SZ, 2 * SZ, MREMAP_MAYMOVE);, munmap(q, 2 * SZ);));
    EXP("mmap_fixed_over", DELTA(char *p = map(SZ, PROT_READ | PROT_WRITE, MAP_PRIVATE);, mmap(p, SZ, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);, munmap(p, SZ);));
    EXP("shmget", DELTA(int id;, id = shmget(IPC_PRIVATE, SZ, IPC_CREAT | 0600);, shmctl(id, IPC_RMID, NULL);));
    EXP("shmget_noreserve", DELTA(int id;, id = shmget(IPC_PRIVATE, SZ, IPC_CREAT | SHM_NORESERVE | 0600);, shmctl(id, IPC_RMID, NULL);));
    EXP("shm_rmid", DELTA(int id = shmget(IPC_PRIVATE, SZ, IPC_CREAT | 0600);, shmctl(id, IPC_RMID, NULL);, ;));
    memset(src, 7, sizeof src);
    EXP("memfd_ftruncate_grow", DELTA(int fd = memfd(0, 0);, ftruncate(fd, 2 * M16);, close(fd);));
    EXP("memfd_write16M", DELTA(int fd = memfd(2 * M16, 0);, pwrite(fd, src, M16, 0);, close(fd);));
    EXP("memfd_fault16M", DELTA(int fd = memfd(2 * M16, 0); char *p = mmap(NULL, 2 * M16, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);, touch(p, M16);, munmap(p, 2 * M16); close(fd);));
    EXP("memfd_punch8M", DELTA(int fd = memfd(M16, M16);, fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, M16 / 2);, close(fd);));
    EXP("memfd_ftruncate0", DELTA(int fd = memfd(M16, M16);, ftruncate(fd, 0);, close(fd);));
    {
        /* the stack VMA's size before and after a fault 1 MiB down, and Committed_AS's change */
        long before = -1, after = -1;
        FILE *f = fopen("/proc/self/maps", "r");
        char l[512];
        unsigned long s, e;
        while (f && fgets(l, sizeof l, f))
            if (strstr(l, "[stack]") && sscanf(l, "%lx-%lx", &s, &e) == 2) before = (long)(e - s) / 1024;
        if (f) fclose(f);
        long c0 = committed_kb();
        stack_grow();
        long d = committed_kb() - c0;
        f = fopen("/proc/self/maps", "r");
        while (f && fgets(l, sizeof l, f))
            if (strstr(l, "[stack]") && sscanf(l, "%lx-%lx", &s, &e) == 2) after = (long)(e - s) / 1024;
        if (f) fclose(f);
        printf("{\"exp\":\"stack\",\"grow_kb\":%ld,\"kb\":%ld}\n", after - before, d);
    }
    return 0;
}
