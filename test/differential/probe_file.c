/*
 * Differential probe for file mappings: creates a 2 MiB file on the file
 * system of argv[1], drops it from the page cache (fsync, then
 * POSIX_FADV_DONTNEED), maps it at a 2 MiB boundary and reports, after each
 * read, the major and minor faults (getrusage), the present pages
 * (/proc/self/pagemap) and the cached pages (mincore). Prints the backing
 * device's read_ahead_kb so that vmlab can be configured alike, or a "skip"
 * object when the measurement is impossible here. Last, ftruncate of a
 * mapped file: what stays mapped, SIGBUS past the new end, zeros after it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "probe.h"

#define PG 4096L
#define N 512L

static void faults(long *minor, long *major) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    *minor = ru.ru_minflt;
    *major = ru.ru_majflt;
}

static long present(const char *a) { return probe_present(a, N); }
static long cached(char *a) { return probe_incore(a, N); }

static long read_ahead_kb(dev_t dev) {
    char path[128];
    long kb = -1;
    const char *forms[] = {"/sys/dev/block/%u:%u/queue/read_ahead_kb", "/sys/dev/block/%u:%u/../queue/read_ahead_kb"};
    for (int i = 0; i < 2 && kb < 0; i++) {
        snprintf(path, sizeof path, forms[i], major(dev), minor(dev));
        FILE *f = fopen(path, "r");
        if (f) {
            if (fscanf(f, "%ld", &kb) != 1) kb = -1;
            fclose(f);
        }
    }
    return kb;
}

/* one read of page `page`; prints the faults it took and the state after it */
static void step(const char *name, char *p, long page) {
    long mi0, ma0, mi1, ma1;
    faults(&mi0, &ma0);
    (void)*(volatile char *)(p + page * PG);
    faults(&mi1, &ma1);
    printf("{\"exp\":\"%s\",\"minor\":%ld,\"major\":%ld,\"present\":%ld,\"cached\":%ld}\n", name, mi1 - mi0, ma1 - ma0,
           present(p), cached(p));
}

static char *map_at_2m(int fd) {
    char *hint = mmap(NULL, 4L << 20, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    char *al = (char *)(((uintptr_t)hint + (2L << 20) - 1) & ~((uintptr_t)(2L << 20) - 1));
    munmap(hint, 4L << 20);
    return mmap(al, N * PG, PROT_READ, MAP_SHARED | MAP_FIXED, fd, 0);
}

static int drop(int fd, char *p) {
    posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    return cached(p) == 0;
}

/* a 2 MiB file, written and synced, so that its pages are clean and can be dropped */
static int make_file(const char *path) {
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) return -1;
    static char buf[PG];
    for (long i = 0; i < N; i++) {
        memset(buf, (int)i, PG);
        if (write(fd, buf, PG) != PG) { close(fd); return -1; }
    }
    fsync(fd);
    return fd;
}

static sigjmp_buf bus_jb;
static void on_bus(int sig) { (void)sig; siglongjmp(bus_jb, 1); }

/* does a read of *a raise SIGBUS? */
static int bus_on_read(const char *a) {
    if (sigsetjmp(bus_jb, 1) == 0) { (void)*(volatile const char *)a; return 0; }
    return 1;
}

static long present_n(const char *a, long pages) {
    int fd = open("/proc/self/pagemap", O_RDONLY);
    if (fd < 0) return -1;
    long n = 0;
    for (long i = 0; i < pages; i++) {
        uint64_t e = 0;
        if (pread(fd, &e, 8, (off_t)(((uintptr_t)a / PG) + i) * 8) != 8) { close(fd); return -1; }
        if (e >> 63) n++;
    }
    close(fd);
    return n;
}

/* ftruncate of a mapped file to 5000 bytes (truncate_pagecache, unmap_mapping_range with even_cows):
   what stays mapped, SIGBUS past the end (shared, and a private COW copy), the zeroed tail, and
   zeros after growing it again */
static void truncate_exp(const char *path) {
    int fd = make_file(path);
    if (fd < 0 || ftruncate(fd, 4 * PG) != 0) { printf("{\"exp\":\"truncate\",\"skip\":\"cannot make the file\"}\n"); return; }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_bus;
    sigaction(SIGBUS, &sa, NULL);
    char *m = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    char *q = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    for (long i = 0; i < 4; i++) (void)*(volatile char *)(m + i * PG);
    q[3 * PG] = 5;
    int r = ftruncate(fd, 5000);
    long sp = present_n(m, 4), pp = present_n(q, 4);
    int tail = m[5000], before = m[4999];
    int bs = bus_on_read(m + 2 * PG), bp = bus_on_read(q + 3 * PG);
    int r2 = ftruncate(fd, 4 * PG);
    int regrow = m[3 * PG];
    printf("{\"exp\":\"truncate\",\"ret\":%d,\"shared_present\":%ld,\"private_present\":%ld,\"bus_shared\":%d,"
           "\"bus_private\":%d,\"tail\":%d,\"before\":%d,\"ret2\":%d,\"regrow\":%d}\n",
           r, sp, pp, bs, bp, tail, before, r2, regrow);
    munmap(m, 4 * PG);
    munmap(q, 4 * PG);
    close(fd);
    unlink(path);
}

int main(int argc, char **argv) {
    if (argc != 2) return 2;
    int fd = make_file(argv[1]);
    if (fd < 0) { printf("{\"exp\":\"skip\",\"why\":\"cannot write the file\"}\n"); return 0; }
    struct stat st;
    fstat(fd, &st);
    long ra = read_ahead_kb(st.st_dev);
    if (ra < 0) { printf("{\"exp\":\"skip\",\"why\":\"the file is not on a block device with read_ahead_kb\"}\n"); unlink(argv[1]); return 0; }
    /* warm up what the measurement touches */
    long a, b;
    faults(&a, &b);
    char *p = map_at_2m(fd);
    (void)present(p);
    if (!drop(fd, p)) { printf("{\"exp\":\"skip\",\"why\":\"POSIX_FADV_DONTNEED left pages cached\"}\n"); unlink(argv[1]); return 0; }
    printf("{\"exp\":\"device\",\"read_ahead_kb\":%ld}\n", ra);
    /* pread into an untouched buffer: copy_to_user faults its pages in, counted as the process's minor faults */
    {
        char *ubuf = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        char *robuf = mmap(NULL, PG, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        long mi0, ma0, mi1, ma1;
        faults(&mi0, &ma0);
        long got = pread(fd, ubuf, 4 * PG, 0);
        faults(&mi1, &ma1);
        printf("{\"exp\":\"pread\",\"minor\":%ld,\"major\":0,\"ret\":%ld}\n", mi1 - mi0, got);
        faults(&mi0, &ma0);
        long bad = pread(fd, robuf, 100, 0);
        faults(&mi1, &ma1);
        printf("{\"exp\":\"pread-readonly\",\"minor\":%ld,\"major\":0,\"ret\":%ld}\n", mi1 - mi0, bad < 0 ? -(long)errno : bad);
        munmap(ubuf, 4 * PG);
        munmap(robuf, PG);
        if (!drop(fd, p)) { printf("{\"exp\":\"skip\",\"why\":\"POSIX_FADV_DONTNEED left pages cached\"}\n"); unlink(argv[1]); return 0; }
    }
    step("cold", p, 200);
    step("same-block", p, 201);
    step("next-block", p, 210);
    munmap(p, N * PG);
    close(fd);
    unlink(argv[1]);
    /* a second, fresh file: no read-ahead of the first can still be in flight for it */
    fd = make_file(argv[1]);
    if (fd < 0) { printf("{\"exp\":\"skip\",\"why\":\"cannot write the file\"}\n"); return 0; }
    p = map_at_2m(fd);
    if (!drop(fd, p)) { printf("{\"exp\":\"skip\",\"why\":\"POSIX_FADV_DONTNEED left pages cached\"}\n"); unlink(argv[1]); return 0; }
    madvise(p, N * PG, MADV_RANDOM);
    step("random", p, 300);
    step("random-next", p, 301);
    unlink(argv[1]);
    truncate_exp(argv[1]);
    return 0;
}
