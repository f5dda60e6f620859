/*
 * Differential probe for tmpfs reclaim: a file in /dev/shm (tmpfs) of 64
 * pages written with write(2) (dirty shmem folios) and grown by ftruncate
 * to 128 (holes), mapped shared at a 2 MiB boundary and read whole (the
 * holes get zeroed pages, clean), then MADV_PAGEOUT of the mapping
 * (reclaim_pages -> shrink_folio_list -> shmem_writeout). Reports per half
 * the present pages (pagemap) and the resident ones (mincore: still in the
 * file), then the major and minor faults of reading each half again, and
 * whether this machine has swap.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "probe.h"

#define PG 4096L
#define N 64L

static void reread(const char *name, char *a) {
    long mi0, ma0, mi1, ma1, sum = 0;
    probe_fault_counts(&mi0, &ma0);
    for (long i = 0; i < N; i++) sum += *(volatile char *)(a + i * PG);
    probe_fault_counts(&mi1, &ma1);
    printf("{\"exp\":\"%s\",\"minor\":%ld,\"major\":%ld,\"sum\":%ld}\n", name, mi1 - mi0, ma1 - ma0, sum);
}

int main(void) {
    char path[] = "/dev/shm/vmlab-probe-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0) {
        printf("{\"exp\":\"skip\",\"why\":\"no /dev/shm\"}\n");
        return 0;
    }
    unlink(path);
    static char buf[N * PG];
    memset(buf, 0x5a, sizeof buf);
    if (write(fd, buf, sizeof buf) != (ssize_t)sizeof buf || ftruncate(fd, 2 * N * PG) != 0) return 1;
    char *hint = mmap(NULL, 4L << 20, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    char *a = (char *)(((uintptr_t)hint + (2L << 20) - 1) & ~((uintptr_t)(2L << 20) - 1));
    munmap(hint, 4L << 20);
    a = mmap(a, 2 * N * PG, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0);
    if (a == MAP_FAILED) return 1;
    (void)probe_present(a, N);
    (void)probe_incore(a, N);
    for (long i = 0; i < 2 * N; i++) (void)*(volatile char *)(a + i * PG);
    long before = probe_present(a, 2 * N);
    int r = madvise(a, 2 * N * PG, MADV_PAGEOUT);
    printf("{\"exp\":\"pageout\",\"ret\":%d,\"before\":%ld,\"swap_kb\":%ld}\n", r, before, probe_swap_total_kb());
    printf("{\"exp\":\"written\",\"present\":%ld,\"resident\":%ld}\n", probe_present(a, N), probe_incore(a, N));
    printf("{\"exp\":\"holes\",\"present\":%ld,\"resident\":%ld}\n", probe_present(a + N * PG, N),
           probe_incore(a + N * PG, N));
    reread("written-reread", a);
    reread("holes-reread", a + N * PG);
    return 0;
}
