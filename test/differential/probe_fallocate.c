/*
 * Differential probe for fallocate(2) and MADV_REMOVE on memfds: a memfd
 * written 16M by write(2) and mapped shared (read through), then
 * FALLOC_FL_PUNCH_HOLE | KEEP_SIZE of the 8M in the middle: the changes of
 * Committed_AS and Shmem (kB, machine-wide: the median of REPS tries), the
 * mapping's smaps Rss, the bytes read back at the hole's edges; MADV_REMOVE
 * of 2M of a shared memfd mapping (its Rss, Shmem, the bytes); fallocate
 * mode 0 of 16M on an empty memfd (st_size, Shmem, Committed_AS) and
 * KEEP_SIZE of 8M past i_size (st_size unchanged); the errors: PUNCH_HOLE
 * without KEEP_SIZE, an unknown mode, a negative offset, a zero length,
 * F_SEAL_WRITE under a hole, F_SEAL_GROW under KEEP_SIZE past i_size,
 * MADV_REMOVE on private anonymous, private file, mlocked and read-only
 * shared (VM_MAYWRITE: allowed) mappings. One JSON line.
 */
#define _GNU_SOURCE
#include "probe.h"
#include <errno.h>
#include <linux/falloc.h>
#include <sys/stat.h>

#define REPS 7
#define M (1L << 20)

static char buf[1 << 20];
static char src[16 << 20];

static long meminfo_kb(const char *field) {
    return probe_meminfo_kb(buf, sizeof buf, field);
}

static long median(long *v) {
    return probe_median(v, REPS);
}

static long size_of(int fd) {
    struct stat st;
    return fstat(fd, &st) == 0 ? (long)st.st_size : -1;
}

#define R(x) ((x) < 0 ? -errno : (x))

int main(void) {
    for (long i = 0; i < (long)sizeof src; i++) src[i] = (char)(i / 4096 % 250 + 1);
    long punch_c[REPS], punch_s[REPS], alloc_c[REPS], alloc_s[REPS], keep_s[REPS];
    long rss0 = 0, rss1 = 0, r_punch = 0, b_lo = 0, b_in = 0, b_end = 0, b_hi = 0;
    long sz_alloc = 0, sz_keep = 0, r_alloc = 0, r_keep = 0;
    for (int rep = 0; rep < REPS; rep++) {
        int fd = memfd_create("probe", 0);
        if (fd < 0 || pwrite(fd, src, 16 * M, 0) != 16 * M) return 1;
        volatile char *p = mmap(NULL, 16 * M, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (p == MAP_FAILED) return 1;
        for (long i = 0; i < 16 * M; i += 4096) (void)p[i];
        rss0 = probe_smaps_kb(buf, sizeof buf, (void *)p, "\nRss:");
        long c0 = meminfo_kb("\nCommitted_AS:"), s0 = meminfo_kb("\nShmem:");
        r_punch = R(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 4 * M, 8 * M));
        punch_c[rep] = meminfo_kb("\nCommitted_AS:") - c0;
        punch_s[rep] = meminfo_kb("\nShmem:") - s0;
        rss1 = probe_smaps_kb(buf, sizeof buf, (void *)p, "\nRss:");
        b_lo = p[4 * M - 1];
        b_in = p[4 * M];
        b_end = p[12 * M - 1];
        b_hi = p[12 * M];
        munmap((void *)p, 16 * M);
        close(fd);

        fd = memfd_create("probe", 0);
        c0 = meminfo_kb("\nCommitted_AS:");
        s0 = meminfo_kb("\nShmem:");
        r_alloc = R(fallocate(fd, 0, 0, 16 * M));
        alloc_c[rep] = meminfo_kb("\nCommitted_AS:") - c0;
        alloc_s[rep] = meminfo_kb("\nShmem:") - s0;
        sz_alloc = size_of(fd);
        s0 = meminfo_kb("\nShmem:");
        r_keep = R(fallocate(fd, FALLOC_FL_KEEP_SIZE, 16 * M, 8 * M));
        keep_s[rep] = meminfo_kb("\nShmem:") - s0;
        sz_keep = size_of(fd);
        close(fd);
    }
    /* MADV_REMOVE of 2M of a shared mapping */
    int fd = memfd_create("probe", MFD_ALLOW_SEALING);
    if (fd < 0 || ftruncate(fd, 8 * M) != 0) return 1;
    char *m = mmap(NULL, 8 * M, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    for (long i = 0; i < 8 * M; i += 4096) m[i] = 5;
    long mrss0 = probe_smaps_kb(buf, sizeof buf, m, "\nRss:");
    long s0 = meminfo_kb("\nShmem:");
    long r_remove = R(madvise(m + M, 2 * M, MADV_REMOVE));
    long rm_s = meminfo_kb("\nShmem:") - s0;
    long mrss1 = probe_smaps_kb(buf, sizeof buf, m, "\nRss:");
    long rm_b = m[M], rm_keep = m[3 * M];
    /* the errors */
    long e_nokeep = R(fallocate(fd, FALLOC_FL_PUNCH_HOLE, 0, 4096));
    long e_mode = R(fallocate(fd, 0x100, 0, 4096));
    long e_neg = R(fallocate(fd, 0, -4096, 4096));
    long e_zero = R(fallocate(fd, 0, 0, 0));
    char *anon = mmap(NULL, 4 * M, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    long e_anon = R(madvise(anon, 4 * M, MADV_REMOVE));
    char *priv = mmap(NULL, 4 * M, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    long e_priv = R(madvise(priv, 4 * M, MADV_REMOVE));
    char *ro = mmap(NULL, 4 * M, PROT_READ, MAP_SHARED, fd, 0);
    long r_ro = R(madvise(ro, 4 * M, MADV_REMOVE));
    char *lk = mmap(NULL, 4 * M, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_LOCKED, fd, 0);
    long e_locked = lk == MAP_FAILED ? -1000 : R(madvise(lk, 4 * M, MADV_REMOVE));
    munmap(lk, 4 * M);
    munmap(ro, 4 * M);
    munmap(m, 8 * M);
    fcntl(fd, F_ADD_SEALS, F_SEAL_GROW);
    long e_grow = R(fallocate(fd, FALLOC_FL_KEEP_SIZE, 6 * M, 4 * M));
    long r_grow_in = R(fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, 8 * M));
    fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE);
    long e_sealed = R(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 4096));
    printf("{\"r_punch\":%ld,\"punch_committed_kb\":%ld,\"punch_shmem_kb\":%ld,\"rss0\":%ld,\"rss1\":%ld,"
           "\"b_lo\":%ld,\"b_in\":%ld,\"b_end\":%ld,\"b_hi\":%ld,"
           "\"r_alloc\":%ld,\"alloc_committed_kb\":%ld,\"alloc_shmem_kb\":%ld,\"size_alloc\":%ld,"
           "\"r_keep\":%ld,\"keep_shmem_kb\":%ld,\"size_keep\":%ld,"
           "\"r_remove\":%ld,\"remove_shmem_kb\":%ld,\"mrss0\":%ld,\"mrss1\":%ld,\"rm_b\":%ld,\"rm_keep\":%ld,"
           "\"e_nokeep\":%ld,\"e_mode\":%ld,\"e_neg\":%ld,\"e_zero\":%ld,\"e_anon\":%ld,\"e_priv\":%ld,"
           "\"r_ro\":%ld,\"e_locked\":%ld,\"e_grow\":%ld,\"r_grow_in\":%ld,\"e_sealed\":%ld}\n",
           r_punch, median(punch_c), median(punch_s), rss0, rss1, b_lo, b_in, b_end, b_hi,
           r_alloc, median(alloc_c), median(alloc_s), sz_alloc, r_keep, median(keep_s), sz_keep,
           r_remove, rm_s, mrss0, mrss1, rm_b, rm_keep,
           e_nokeep, e_mode, e_neg, e_zero, e_anon, e_priv, r_ro, e_locked, e_grow, r_grow_in, e_sealed);
    return 0;
}
