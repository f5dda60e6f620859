/*
 * Differential probe for read(2)'s readahead (mm/filemap.c filemap_read ->
 * page_cache_sync_ra / page_cache_async_ra, mm/readahead.c): prints the
 * file's backing device's read_ahead_kb, then for each case the file's
 * residency (mincore over a shared mapping of it, one digit a page) after
 * each read, once the reads have ended (mincore counts only pages up to
 * date: the vector is read until it has not changed for 50 ms). Each case
 * opens the file anew (a new struct file: fresh f_ra), drops its cache
 * (POSIX_FADV_DONTNEED) and checks nothing is left. Cases (4K reads unless
 * said): "seq", 40 sequential read(2)s of a 1 MiB file; "rand", pread(2)s
 * at scattered pages; "fadv_random", POSIX_FADV_RANDOM then 8 sequential
 * reads; "fadv_seq", POSIX_FADV_SEQUENTIAL then 12 sequential reads;
 * "eof", read(2)s of a 10-page-and-100-byte file until it returns 0;
 * "big", 64K read(2)s. "mmap": a file of 2 * ra_pages + 512 pages mapped
 * at 0x40000000 (a 2 MiB boundary), its first 3/4 * ra_pages + 64 pages
 * read one byte each in order; for each read that faulted, the minor and
 * major faults it took and the file's cached pages after it (mmap
 * read-around marks a page PG_readahead; the fault on it starts the async
 * window: do_async_mmap_readahead).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "probe.h"

#define PG 4096L

static int make_file(const char *path, long bytes) {
    int fd = probe_make_file(path, bytes);
    if (fd < 0) return -1;
    close(fd);
    return 0;
}


#define vec(a, n) probe_mincore_vec(a, n)
/* the vector once it has not changed for 50 ms (at most 5 s) */
#define settled(a, n) probe_mincore_settled(a, n, 5, 1000)

static char buf[1 << 20];

/*
 * A case: open the file anew, drop its cache, `advice` (or -1), then `n` reads of `size`
 * bytes, at `offsets[i]` pages (pread) or, with offsets NULL, at the file position (read);
 * prints the return values and the vector after each read.
 */
static void run_case(const char *exp, const char *path, long bytes, int advice, int n, long size,
                     const long *offsets) {
    long pages = (bytes + PG - 1) / PG;
    int fd = open(path, O_RDONLY);
    if (fd < 0) { printf("{\"exp\":\"%s\",\"skip\":\"open failed\"}\n", exp); return; }
    char *a = mmap(NULL, pages * PG, PROT_READ, MAP_SHARED, fd, 0);
    if (a == MAP_FAILED) { printf("{\"exp\":\"%s\",\"skip\":\"mmap failed\"}\n", exp); close(fd); return; }
    posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    if (strchr(settled(a, pages), '1') != NULL) {
        printf("{\"exp\":\"%s\",\"skip\":\"POSIX_FADV_DONTNEED left clean pages cached\"}\n", exp);
        munmap(a, pages * PG);
        close(fd);
        return;
    }
    if (advice >= 0) posix_fadvise(fd, 0, 0, advice);
    printf("{\"exp\":\"%s\",\"steps\":[", exp);
    for (int i = 0; i < n; i++) {
        long r = offsets ? pread(fd, buf, size, offsets[i] * PG) : read(fd, buf, size);
        printf("%s{\"ret\":%ld,\"vec\":\"%s\"}", i ? "," : "", r, settled(a, pages));
    }
    printf("]}\n");
    munmap(a, pages * PG);
    close(fd);
}

/* the "mmap" case: faults and cached pages after each faulting read, in order */
static void mmap_case(const char *path, long ra_pages) {
    long pages = 2 * ra_pages + 512, touch = ra_pages * 3 / 4 + 64;
    if (make_file(path, pages * PG) < 0) { printf("{\"exp\":\"mmap\",\"skip\":\"cannot write the file\"}\n"); return; }
    int fd = open(path, O_RDONLY);
    char *m = mmap(NULL, pages * PG, PROT_READ, MAP_SHARED, fd, 0);
    char *a = mmap((void *)0x40000000L, pages * PG, PROT_READ, MAP_SHARED | MAP_FIXED_NOREPLACE, fd, 0);
    if (m == MAP_FAILED || a != (void *)0x40000000L) {
        printf("{\"exp\":\"mmap\",\"skip\":\"mmap at 0x40000000 failed\"}\n");
        close(fd);
        unlink(path);
        return;
    }
    posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    if (strchr(settled(m, pages), '1') != NULL) {
        printf("{\"exp\":\"mmap\",\"skip\":\"POSIX_FADV_DONTNEED left clean pages cached\"}\n");
    } else {
        printf("{\"exp\":\"mmap\",\"pages\":%ld,\"touch\":%ld,\"faults\":[", pages, touch);
        volatile char sum = 0;
        for (long i = 0, n = 0; i < touch; i++) {
            struct rusage r0, r1;
            getrusage(RUSAGE_SELF, &r0);
            sum += a[i * PG];
            getrusage(RUSAGE_SELF, &r1);
            long mi = r1.ru_minflt - r0.ru_minflt, ma = r1.ru_majflt - r0.ru_majflt;
            if (mi == 0 && ma == 0) continue;
            char *v = settled(m, pages);
            long c = 0;
            for (long j = 0; j < pages; j++) c += v[j] == '1';
            printf("%s[%ld,%ld,%ld,%ld]", n++ ? "," : "", i, mi, ma, c);
        }
        printf("]}\n");
    }
    munmap(a, pages * PG);
    munmap(m, pages * PG);
    close(fd);
    unlink(path);
}

int main(int argc, char **argv) {
    if (argc != 2) return 2;
    char path[512], small[512];
    snprintf(path, sizeof path, "%s/data", argv[1]);
    snprintf(small, sizeof small, "%s/small", argv[1]);
    if (make_file(path, 256 * PG) < 0 || make_file(small, 10 * PG + 100) < 0) {
        printf("{\"exp\":\"skip\",\"why\":\"cannot write the files\"}\n");
        return 0;
    }
    struct stat st;
    stat(path, &st);
    long ra_kb = probe_queue_value(st.st_dev, "read_ahead_kb");
    if (ra_kb < 0) {
        printf("{\"exp\":\"skip\",\"why\":\"no block queue in sysfs for the file's device\"}\n");
        unlink(path);
        unlink(small);
        return 0;
    }
    printf("{\"exp\":\"bdi\",\"ra_kb\":%ld}\n", ra_kb);
    static const long rand_at[] = {100, 37, 200, 5, 150, 60, 61, 62};
    run_case("seq", path, 256 * PG, -1, 40, PG, NULL);
    run_case("rand", path, 256 * PG, -1, 8, PG, rand_at);
    run_case("fadv_random", path, 256 * PG, POSIX_FADV_RANDOM, 8, PG, NULL);
    run_case("fadv_seq", path, 256 * PG, POSIX_FADV_SEQUENTIAL, 12, PG, NULL);
    run_case("eof", small, 10 * PG + 100, -1, 12, PG, NULL);
    run_case("big", path, 256 * PG, -1, 8, 16 * PG, NULL);
    unlink(path);
    unlink(small);
    if (ra_kb / 4 > 4096) printf("{\"exp\":\"mmap\",\"skip\":\"read_ahead_kb past 16 MiB\"}\n");
    else mmap_case(path, ra_kb / 4);
    return 0;
}
