/*
 * Differential probe: shmem_recalc_inode's uncharge of memfd pages reclaim
 * dropped clean (mm/shmem.c). A 16 MiB memfd is read-faulted through a
 * shared mapping (every page allocated zero-filled, clean: Shmem and
 * Committed_AS up by 16 MiB, shmem_acct_blocks of a VM_NORESERVE inode);
 * each step prints the change of /proc/meminfo's Committed_AS and Shmem
 * (kB) over one system call, the median of REPS tries:
 *   fault     the read faults
 *   pageout   MADV_PAGEOUT of the mapping: the clean pages are dropped
 *             without swap (shrink_folio_list -> __remove_mapping; the
 *             host has no swap and needs none for them), Committed_AS
 *             keeps their charge (nrpages fell, info->alloced did not)
 *   munmap    nothing more
 *   fstat     shmem_getattr's shmem_recalc_inode: the charge given back
 *             (st_blocks after it: 0)
 *   close     the last reference: nothing left to free
 * and a last record, "stat": st_blocks after the fstat and MADV_PAGEOUT's
 * return, the medians.
 * memfdrecalc.test.ts runs the same steps on vmlab.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "probe.h"

#define M16 (16L << 20)
#define REPS 7
#define STEPS 5

static char buf[1 << 16];
static const char *names[STEPS] = {"fault", "pageout", "munmap", "fstat", "close"};

static void sample(long *c, long *s) {
    *c = probe_meminfo_kb(buf, sizeof buf, "\nCommitted_AS:");
    *s = probe_meminfo_kb(buf, sizeof buf, "\nShmem:");
}

int main(void) {
    long dc[STEPS][REPS], ds[STEPS][REPS], blocks[REPS], pageout[REPS];
    for (int r = 0; r < REPS; r++) {
        long c[STEPS + 1], s[STEPS + 1];
        int fd = memfd_create("probe", 0);
        if (fd < 0 || ftruncate(fd, M16) != 0) return 1;
        char *p = mmap(NULL, M16, PROT_READ, MAP_SHARED, fd, 0);
        if (p == MAP_FAILED) return 1;
        volatile char x = 0;
        struct stat st;
        sample(&c[0], &s[0]);
        for (long i = 0; i < M16; i += 4096) x += p[i];
        sample(&c[1], &s[1]);
        pageout[r] = madvise(p, M16, MADV_PAGEOUT);
        sample(&c[2], &s[2]);
        munmap(p, M16);
        sample(&c[3], &s[3]);
        fstat(fd, &st);
        sample(&c[4], &s[4]);
        close(fd);
        sample(&c[5], &s[5]);
        blocks[r] = st.st_blocks;
        for (int i = 0; i < STEPS; i++) {
            dc[i][r] = c[i + 1] - c[i];
            ds[i][r] = s[i + 1] - s[i];
        }
    }
    for (int i = 0; i < STEPS; i++)
        printf("{\"exp\":\"%s\",\"committed\":%ld,\"shmem\":%ld}\n", names[i], probe_median(dc[i], REPS),
               probe_median(ds[i], REPS));
    printf("{\"exp\":\"stat\",\"blocks\":%ld,\"pageout\":%ld}\n", probe_median(blocks, REPS),
           probe_median(pageout, REPS));
    return 0;
}
