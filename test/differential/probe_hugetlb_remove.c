/*
 * Differential probe for MADV_REMOVE on HugeTLB memory (mm/madvise.c
 * madvise_remove -> vfs_fallocate(PUNCH_HOLE | KEEP_SIZE) ->
 * fs/hugetlbfs/inode.c hugetlbfs_punch_hole), run as root: sets
 * /proc/sys/vm/nr_hugepages to 4 (nr_overcommit_hugepages to 0) and prints
 * /proc/meminfo's HugePages_Total, _Free, _Rsvd and _Surp as a JSON line
 * after each step: a shared MAP_HUGETLB mapping of three huge pages, the
 * first and the last touched (the middle one reserved, never instantiated);
 * MADV_REMOVE of [1M, 5M) (no whole huge page with a folio: the partial
 * ones zeroed in place, the middle one's reservation kept) and the bytes on
 * either side of each edge; MADV_REMOVE of the whole mapping (the two
 * folios freed, their reservations with them, the middle one's kept), a
 * touch of each page; a private mapping's MADV_REMOVE (EACCES), a range
 * past the mapping's end (ENOMEM), a start not page-aligned (EINVAL); a
 * SHM_HUGETLB segment attached, touched and removed; the munmaps. The old
 * nr_hugepages and nr_overcommit_hugepages are written back before it exits
 * (the test writes them back too). Prints {"exp":"skip",...} when the pool
 * cannot be set.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <unistd.h>

#include "probe_hugetlb.h"

#define MB (1L << 20)

static char *map(long len, int flags) {
    return mmap(NULL, len, PROT_READ | PROT_WRITE, flags | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
}

static long remove_(char *a, long len) {
    return madvise(a, len, MADV_REMOVE) ? -errno : 0;
}

int main(void) {
    (void)smaps, (void)on_bus, (void)touch_bus; /* probe_hugetlb.h's, unused here */
    if (set_pool(4) != 0) return 0;
    report("set", 4);

    char *s = map(3 * HPAGE, MAP_SHARED);
    report("shared-mmap", s == MAP_FAILED ? -errno : 0);
    if (s == MAP_FAILED) return 0;
    memset(s, 5, HPAGE);
    memset(s + 2 * HPAGE, 6, HPAGE);
    report("touch-first-last", 0);
    report("remove-partial", remove_(s + MB, 4 * MB));
    report("byte-1M-1", s[MB - 1]);
    report("byte-1M", s[MB]);
    report("byte-5M-1", s[5 * MB - 1]);
    report("byte-5M", s[5 * MB]);
    report("remove-whole", remove_(s, 3 * HPAGE));
    report("byte-0", s[0]);
    report("byte-2M", s[HPAGE]);
    report("byte-4M", s[2 * HPAGE]);

    char *p = map(HPAGE, MAP_PRIVATE);
    report("private-mmap", p == MAP_FAILED ? -errno : 0);
    if (p == MAP_FAILED) return 0;
    p[0] = 1;
    report("private-remove", remove_(p, HPAGE));
    report("past-end", remove_(s + 3 * HPAGE - 4096, 8192));
    report("unaligned", remove_(s + 1, 4096));
    munmap(p, HPAGE);
    report("munmap-private", 0);

    int id = shmget(IPC_PRIVATE, HPAGE, IPC_CREAT | SHM_HUGETLB | 0600);
    report("shmget", id < 0 ? -errno : 0);
    if (id < 0) return 0;
    char *a = shmat(id, NULL, 0);
    report("shmat", a == (void *)-1 ? -errno : 0);
    if (a == (void *)-1) return 0;
    a[7] = 7;
    report("shm-touch", a[7]);
    report("shm-remove", remove_(a, HPAGE));
    report("shm-byte", a[7]);
    shmdt(a);
    shmctl(id, IPC_RMID, NULL);
    report("shm-rmid", 0);
    munmap(s, 3 * HPAGE);
    report("munmap-shared", 0);
    return 0;
}
