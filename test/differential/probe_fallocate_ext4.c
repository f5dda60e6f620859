/*
 * Differential probe for fallocate(2)'s modes on an ext4 file (fs/ext4/
 * extents.c ext4_fallocate): a 64K file under /var/tmp whose page i holds
 * the byte i + 1 (write(2), fsync), mapped shared (every page read) and
 * private (page 10 written: a COW copy), page 8 written through the shared
 * mapping (dirty, not synced); then FALLOC_FL_COLLAPSE_RANGE of [4K, 20K),
 * INSERT_RANGE of 8K at 4K, ZERO_RANGE of an unaligned range inside i_size,
 * of a range past it without and with KEEP_SIZE, and the errors (unaligned
 * collapse and insert, a collapse reaching i_size, an insert at i_size,
 * COLLAPSE with KEEP_SIZE, UNSHARE_RANGE, PUNCH_HOLE | ZERO_RANGE). One JSON
 * line per step: the return, st_size, the first byte of each page (pread)
 * and the smaps Rss (kB) of both mappings. Prints {"exp":"skip",...} when
 * /var/tmp is not ext4.
 */
#define _GNU_SOURCE
#include "probe.h"
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/vfs.h>

#define K 1024L
#define EXT4_SUPER_MAGIC 0xEF53

static char buf[1 << 20];
static int fd;
static char *m, *p;

static void step(const char *exp, long ret) {
    struct stat st;
    fstat(fd, &st);
    printf("{\"exp\":\"%s\",\"ret\":%ld,\"size\":%ld,\"pages\":[", exp, ret, (long)st.st_size);
    for (long off = 0; off < st.st_size; off += 4096) {
        unsigned char b = 0;
        if (pread(fd, &b, 1, off) != 1) b = 0;
        printf("%s%d", off ? "," : "", b);
    }
    printf("],\"rss_m\":%ld,\"rss_p\":%ld}\n", probe_smaps_kb(buf, sizeof buf, m, "\nRss:"),
           probe_smaps_kb(buf, sizeof buf, p, "\nRss:"));
    fflush(stdout);
}

static long fa(int mode, long off, long len) {
    return fallocate(fd, mode, off, len) ? -errno : 0;
}

static long byte_at(long off) {
    unsigned char b = 0;
    return pread(fd, &b, 1, off) == 1 ? b : -1;
}

int main(void) {
    struct statfs sf;
    if (statfs("/var/tmp", &sf) != 0 || sf.f_type != EXT4_SUPER_MAGIC) {
        printf("{\"exp\":\"skip\",\"why\":\"/var/tmp is not ext4\"}\n");
        return 0;
    }
    char path[] = "/var/tmp/vmlab-falloc-XXXXXX";
    fd = mkstemp(path);
    if (fd < 0) return 1;
    unlink(path);
    static char page[4096];
    for (int i = 0; i < 16; i++) {
        memset(page, i + 1, sizeof page);
        if (write(fd, page, sizeof page) != sizeof page) return 1;
    }
    fsync(fd);
    m = mmap(NULL, 64 * K, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    p = mmap(NULL, 64 * K, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    if (m == MAP_FAILED || p == MAP_FAILED) return 1;
    volatile char sink = 0;
    for (long i = 0; i < 16; i++) sink += m[i * 4096];
    (void)sink;
    p[10 * 4096] = 0x77;
    m[8 * 4096] = 0x55;
    step("setup", 0);
    step("collapse", fa(FALLOC_FL_COLLAPSE_RANGE, 4 * K, 16 * K));
    step("collapse-unaligned", fa(FALLOC_FL_COLLAPSE_RANGE, 4 * K, 100));
    step("collapse-to-eof", fa(FALLOC_FL_COLLAPSE_RANGE, 0, 48 * K));
    step("collapse-keep-size", fa(FALLOC_FL_COLLAPSE_RANGE | FALLOC_FL_KEEP_SIZE, 4 * K, 4 * K));
    /* the shared mapping read again over the new size */
    volatile char s2 = 0;
    for (long i = 0; i < 12; i++) s2 += m[i * 4096];
    (void)s2;
    step("reread", m[4 * 4096]);
    step("insert", fa(FALLOC_FL_INSERT_RANGE, 4 * K, 8 * K));
    step("insert-at-eof", fa(FALLOC_FL_INSERT_RANGE, 56 * K, 4 * K));
    step("insert-unaligned", fa(FALLOC_FL_INSERT_RANGE, 4 * K, 2 * K));
    step("zero", fa(FALLOC_FL_ZERO_RANGE, 12 * K + 100, 8 * K));
    step("zero-byte-before", byte_at(12 * K + 99));
    step("zero-byte-first", byte_at(12 * K + 100));
    step("zero-byte-last", byte_at(20 * K + 99));
    step("zero-byte-after", byte_at(20 * K + 100));
    step("zero-past-eof", fa(FALLOC_FL_ZERO_RANGE, 50 * K, 20 * K));
    step("zero-keep-size", fa(FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, 80 * K, 4 * K));
    step("unshare", fa(FALLOC_FL_UNSHARE_RANGE, 0, 4 * K));
    step("punch-zero", fa(FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, 0, 4 * K));
    close(fd);
    return 0;
}
