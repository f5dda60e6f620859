/*
 * Differential probe for shmem reclaim: MADV_PAGEOUT on shared anonymous
 * memory (reclaim_pages -> shrink_folio_list -> shmem_writeout), one region
 * only read (its pages clean) and one written, each 64 pages at a 2 MiB
 * boundary. Reports after the pageout the present pages (pagemap) and the
 * resident ones (mincore: still in the shmem object), then the major and
 * minor faults of reading each region again, and whether this machine has
 * swap (without it a dirty shmem page cannot be written out and stays).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include "probe.h"

#define PG 4096L
#define N 64L

static long present(const char *a) { return probe_present(a, N); }

static long resident(char *a) {
    return probe_incore(a, N);
}

static char *region(void) {
    char *hint = mmap(NULL, 4L << 20, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    char *al = (char *)(((uintptr_t)hint + (2L << 20) - 1) & ~((uintptr_t)(2L << 20) - 1));
    munmap(hint, 4L << 20);
    return mmap(al, N * PG, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
}

static void reread(const char *name, char *a) {
    long mi0, ma0, mi1, ma1, sum = 0;
    probe_fault_counts(&mi0, &ma0);
    for (long i = 0; i < N; i++) sum += *(volatile char *)(a + i * PG);
    probe_fault_counts(&mi1, &ma1);
    printf("{\"exp\":\"%s\",\"minor\":%ld,\"major\":%ld,\"sum\":%ld}\n", name, mi1 - mi0, ma1 - ma0, sum);
}

int main(void) {
    char *s = region(), *t = region();
    (void)present(s);
    (void)resident(s);
    for (long i = 0; i < N; i++) (void)*(volatile char *)(s + i * PG);
    int rs = madvise(s, N * PG, MADV_PAGEOUT);
    printf("{\"exp\":\"clean\",\"ret\":%d,\"present\":%ld,\"resident\":%ld}\n", rs, present(s), resident(s));
    for (long i = 0; i < N; i++) t[i * PG] = 7;
    int rt = madvise(t, N * PG, MADV_PAGEOUT);
    printf("{\"exp\":\"dirty\",\"ret\":%d,\"present\":%ld,\"resident\":%ld,\"swap_kb\":%ld}\n", rt, present(t), resident(t),
           probe_swap_total_kb());
    reread("clean-reread", s);
    reread("dirty-reread", t);
    return 0;
}
