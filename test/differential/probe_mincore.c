/*
 * Differential probe for mincore(2), posix_fadvise(2) and drop_caches:
 * creates a 1 MiB file on the file system of argv[1] (written and fsynced:
 * clean), and prints, after each step, mincore's vector over a mapping of
 * it (one digit a page) as JSON lines. The steps: drop it
 * (POSIX_FADV_DONTNEED), read(2) 32K from 0 under POSIX_FADV_RANDOM (only
 * the pages read), POSIX_FADV_WILLNEED of the whole file, DONTNEED of
 * [64K, 192K) (full pages only) and of [1000, 11000) (one full page), a read
 * of page 200 through the mapping (fault-around maps 16 pages) then DONTNEED
 * of everything (mapped pages stay), write(2) of 16K then DONTNEED (pages
 * under writeback stay), fsync then DONTNEED, and, as root, echo 1 >
 * /proc/sys/vm/drop_caches. Then an anonymous mapping of 64 pages with every
 * other page touched, and mincore's errors (EINVAL unaligned, ENOMEM a hole).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define PG 4096L
#define N 256L

static char *vecstr(char *a, long n) {
    static char s[1024 + 1];
    unsigned char v[1024];
    if (mincore(a, (size_t)n * PG, v) != 0) return "error";
    for (long i = 0; i < n; i++) s[i] = (char)('0' + (v[i] & 1));
    s[n] = 0;
    return s;
}

static void report(const char *exp, char *a) { printf("{\"exp\":\"%s\",\"vec\":\"%s\"}\n", exp, vecstr(a, N)); }

static int make_file(const char *path) {
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) return -1;
    static char buf[PG];
    for (long i = 0; i < N; i++) {
        memset(buf, (int)i + 1, PG);
        if (write(fd, buf, PG) != PG) { close(fd); return -1; }
    }
    fsync(fd);
    return fd;
}

/* reads the whole file: waits for the I/O WILLNEED started (mincore counts only pages up to date) */
static void settle(int fd) {
    static char all[N * PG];
    if (pread(fd, all, sizeof all, 0) != (long)sizeof all) printf("{\"exp\":\"settle-failed\"}\n");
}

/* the file mapped at a 2 MiB boundary, so that fault-around's 64K blocks are the file's */
static char *map_at_2m(int fd) {
    char *hint = mmap(NULL, 4L << 20, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    char *al = (char *)(((unsigned long)hint + (2L << 20) - 1) & ~((2UL << 20) - 1));
    munmap(hint, 4L << 20);
    return mmap(al, N * PG, PROT_READ, MAP_SHARED | MAP_FIXED, fd, 0);
}

static int drop_caches(void) {
    int fd = open("/proc/sys/vm/drop_caches", O_WRONLY);
    if (fd < 0) return -1;
    int ok = write(fd, "1", 1) == 1;
    close(fd);
    return ok ? 0 : -1;
}

int main(int argc, char **argv) {
    if (argc != 2) return 2;
    int fd = make_file(argv[1]);
    if (fd < 0) { printf("{\"exp\":\"skip\",\"why\":\"cannot write the file\"}\n"); return 0; }
    char *a = map_at_2m(fd);
    posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    if (strchr(vecstr(a, N), '1') != NULL) {
        printf("{\"exp\":\"skip\",\"why\":\"POSIX_FADV_DONTNEED left clean pages cached\"}\n");
        unlink(argv[1]);
        return 0;
    }
    report("dropped", a);
    static char buf[16 * PG];
    posix_fadvise(fd, 0, 0, POSIX_FADV_RANDOM);
    if (pread(fd, buf, 8 * PG, 0) != 8 * PG) printf("{\"exp\":\"pread-failed\"}\n");
    report("read-part", a);
    posix_fadvise(fd, 0, 0, POSIX_FADV_NORMAL);
    posix_fadvise(fd, 0, 0, POSIX_FADV_WILLNEED);
    settle(fd);
    report("willneed", a);
    posix_fadvise(fd, 64 * 1024, 128 * 1024, POSIX_FADV_DONTNEED);
    report("dontneed-range", a);
    posix_fadvise(fd, 1000, 10000, POSIX_FADV_DONTNEED);
    report("dontneed-partial", a);
    (void)*(volatile char *)(a + 200 * PG);
    posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    report("dontneed-mapped", a);
    posix_fadvise(fd, 0, 0, POSIX_FADV_WILLNEED);
    settle(fd);
    memset(buf, 0x5a, sizeof buf);
    /* dirty pages, no mapped page in the range: invalidation skips them under writeback */
    if (pwrite(fd, buf, 4 * PG, 0) != 4 * PG) printf("{\"exp\":\"pwrite-failed\"}\n");
    posix_fadvise(fd, 0, 64 * 1024, POSIX_FADV_DONTNEED);
    report("dontneed-dirty-alone", a);
    fsync(fd);
    /* dirty pages and mapped ones: the mapped ones fail, lru_add_drain_all, a second pass */
    if (pwrite(fd, buf, 4 * PG, 0) != 4 * PG) printf("{\"exp\":\"pwrite-failed\"}\n");
    posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    report("dontneed-dirty", a);
    fsync(fd);
    posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    report("dontneed-synced", a);
    posix_fadvise(fd, 0, 0, POSIX_FADV_WILLNEED);
    settle(fd);
    if (geteuid() != 0 || drop_caches() != 0)
        printf("{\"exp\":\"drop-caches\",\"skip\":\"not root, or /proc/sys/vm/drop_caches is not writable\"}\n");
    else
        report("drop-caches", a);
    munmap(a, N * PG);
    close(fd);
    unlink(argv[1]);
    /* anonymous memory, every other page touched */
    char *m = mmap(NULL, 64 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    for (long i = 0; i < 64; i += 2) m[i * PG] = 1;
    printf("{\"exp\":\"anon-half\",\"vec\":\"%s\"}\n", vecstr(m, 64));
    unsigned char v[4];
    int e1 = mincore(m + 1, PG, v) == 0 ? 0 : -errno;
    munmap(m + 32 * PG, PG);
    int e2 = mincore(m, 64 * PG, v) == 0 ? 0 : -errno;
    printf("{\"exp\":\"errors\",\"unaligned\":%d,\"hole\":%d}\n", e1, e2);
    return 0;
}
