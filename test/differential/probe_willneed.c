/*
 * Differential probe for MADV_WILLNEED on a file mapping (mm/madvise.c
 * madvise_willneed -> vfs_fadvise(POSIX_FADV_WILLNEED) -> force_page_cache_ra):
 * prints the file's backing device's readahead (read_ahead_kb) and request
 * size (max_sectors_kb, bdi->io_pages), then, for each case, mincore's
 * vector (one digit a page) over a shared mapping of a file on the file
 * system of argv[1], dropped first (POSIX_FADV_DONTNEED), after
 * MADV_WILLNEED over the whole mapping, once the reads have ended (mincore
 * counts only pages up to date: the vector is read until it has not changed
 * for 200 ms). Cases: a 2 MiB file; a file of max(io_pages, ra_pages) + 256
 * pages (past the cap); the second half of that file mapped alone (the
 * file offset of the VMA, vm_pgoff).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "probe.h"

#define PG 4096L

#define vec(a, n) probe_mincore_vec(a, n)
/* the vector once it has not changed for 200 ms (at most 10 s) */
#define settled(a, n) probe_mincore_settled(a, n, 20, 500)

/* maps `pages` of fd from page `off`, drops the file's cache, WILLNEED over the mapping */
static void willneed_case(const char *exp, int fd, long off, long pages) {
    posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    char *a = mmap(NULL, pages * PG, PROT_READ, MAP_SHARED, fd, off * PG);
    if (a == MAP_FAILED) { printf("{\"exp\":\"%s\",\"skip\":\"mmap failed\"}\n", exp); return; }
    if (strchr(vec(a, pages), '1') != NULL) {
        printf("{\"exp\":\"%s\",\"skip\":\"POSIX_FADV_DONTNEED left clean pages cached\"}\n", exp);
        munmap(a, pages * PG);
        return;
    }
    int r = madvise(a, pages * PG, MADV_WILLNEED);
    printf("{\"exp\":\"%s\",\"ret\":%d,\"vec\":\"%s\"}\n", exp, r, settled(a, pages));
    munmap(a, pages * PG);
}

int main(int argc, char **argv) {
    if (argc != 2) return 2;
    char path[512];
    snprintf(path, sizeof path, "%s/small", argv[1]);
    int fd = probe_make_file(path, 512 * PG);
    if (fd < 0) { printf("{\"exp\":\"skip\",\"why\":\"cannot write the file\"}\n"); return 0; }
    struct stat st;
    fstat(fd, &st);
    long ra_kb = probe_queue_value(st.st_dev, "read_ahead_kb"), sectors_kb = probe_queue_value(st.st_dev, "max_sectors_kb");
    if (ra_kb < 0 || sectors_kb < 0) {
        printf("{\"exp\":\"skip\",\"why\":\"no block queue in sysfs for the file's device\"}\n");
        unlink(path);
        return 0;
    }
    printf("{\"exp\":\"bdi\",\"ra_kb\":%ld,\"max_sectors_kb\":%ld}\n", ra_kb, sectors_kb);
    willneed_case("2m", fd, 0, 512);
    close(fd);
    unlink(path);
    long cap = ra_kb / 4 > sectors_kb / 4 ? ra_kb / 4 : sectors_kb / 4;
    long big = cap + 256;
    if (big > 16384) { printf("{\"exp\":\"big\",\"skip\":\"the cap is past 64 MiB\"}\n"); return 0; }
    snprintf(path, sizeof path, "%s/big", argv[1]);
    fd = probe_make_file(path, big * PG);
    if (fd < 0) { printf("{\"exp\":\"big\",\"skip\":\"cannot write the file\"}\n"); return 0; }
    printf("{\"exp\":\"size\",\"pages\":%ld}\n", big);
    willneed_case("big", fd, 0, big);
    willneed_case("big-half", fd, big / 2, big - big / 2);
    close(fd);
    unlink(path);
    return 0;
}
