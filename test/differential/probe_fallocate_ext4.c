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
 * and the smaps Rss (kB) of both mappings. Phase 2 (a second file): the
 * partial blocks of PUNCH_HOLE and ZERO_RANGE (Rss, dirty kB in smaps,
 * mincore), ftruncate's partial block, a punch past i_size. Prints {"exp":"skip",...} when
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

static int fd2;
static long byte_at2(long off) {
    unsigned char b = 0;
    return pread(fd2, &b, 1, off) == 1 ? b : -1;
}

/* phase 2: a second file, its pages 0-7 mapped by m2 (read), all 16 by q2 (never touched:
   mincore only), pages 10-12 by m3 (after the zero ranges) */
static char *m2, *q2, *m3;

static long dirty_kb(void *a) {
    return probe_smaps_kb(buf, sizeof buf, a, "\nShared_Dirty:") +
           probe_smaps_kb(buf, sizeof buf, a, "\nPrivate_Dirty:");
}

/* `res`: mincore's vector of q2 as well (left out where Linux's answer hangs on a folio it added
   but never made uptodate, or on readahead) */
static void step2(const char *exp, long ret, int res) {
    struct stat st;
    fstat(fd2, &st);
    printf("{\"exp\":\"%s\",\"ret\":%ld,\"size\":%ld,\"rss\":%ld,\"dirty\":%ld", exp, ret, (long)st.st_size,
           probe_smaps_kb(buf, sizeof buf, m2, "\nRss:"), dirty_kb(m2));
    if (res) printf(",\"res\":\"%s\"", probe_mincore_vec(q2, 16));
    if (m3) printf(",\"rss3\":%ld,\"dirty3\":%ld", probe_smaps_kb(buf, sizeof buf, m3, "\nRss:"), dirty_kb(m3));
    printf("}\n");
    fflush(stdout);
}

static long fa2(int mode, long off, long len) {
    return fallocate(fd2, mode, off, len) ? -errno : 0;
}

static int phase2(void) {
    char path[] = "/var/tmp/vmlab-falloc2-XXXXXX";
    fd2 = mkstemp(path);
    if (fd2 < 0) return 1;
    unlink(path);
    static char page[4096];
    for (int i = 0; i < 16; i++) {
        memset(page, i + 1, sizeof page);
        if (write(fd2, page, sizeof page) != sizeof page) return 1;
    }
    m2 = mmap(NULL, 32 * K, PROT_READ | PROT_WRITE, MAP_SHARED, fd2, 0);
    q2 = mmap(NULL, 64 * K, PROT_READ | PROT_WRITE, MAP_SHARED, fd2, 0);
    if (m2 == MAP_FAILED || q2 == MAP_FAILED) return 1;
    msync(q2, 64 * K, MS_SYNC);
    volatile char sink = 0;
    for (long i = 0; i < 8; i++) sink += m2[i * 4096];
    (void)sink;
    step2("p2-setup", 0, 1);
    /* partial pages 1 and 3 (cached): zeroed and dirty; whole page 2 dropped */
    step2("p2-punch", fa2(FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 4 * K + 100, 8 * K), 1);
    step2("p2-byte-1", byte_at2(4 * K + 99), 1);
    step2("p2-byte-1b", byte_at2(4 * K + 100), 1);
    step2("p2-byte-3", byte_at2(12 * K + 99), 1);
    step2("p2-byte-3b", byte_at2(12 * K + 100), 1);
    step2("p2-sync", msync(q2, 64 * K, MS_SYNC) ? -errno : 0, 1);
    step2("p2-dontneed", -posix_fadvise(fd2, 32 * K, 32 * K, POSIX_FADV_DONTNEED), 1);
    /* partial pages 10 and 12, not cached: added, read, zeroed, dirty (not uptodate: mincore says
       0 until a read); page 11 whole: nothing cached */
    step2("p2-zero", fa2(FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, 40 * K + 100, 100), 0);
    step2("p2-zero2", fa2(FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, 44 * K, 4 * K + 100), 0);
    step2("p2-byte-10", byte_at2(40 * K + 99), 0);
    step2("p2-byte-10b", byte_at2(40 * K + 100), 0);
    step2("p2-byte-10c", byte_at2(40 * K + 200), 0);
    step2("p2-byte-12", byte_at2(48 * K + 99), 0);
    step2("p2-byte-12b", byte_at2(48 * K + 100), 1);
    /* pages 10-12 mapped: the fault on 10 maps 12 around it; both dirty */
    m3 = mmap(NULL, 12 * K, PROT_READ | PROT_WRITE, MAP_SHARED, fd2, 40 * K);
    if (m3 == MAP_FAILED) return 1;
    step2("p2-read-10", (unsigned char)m3[0], 1);
    step2("p2-sync2", msync(q2, 64 * K, MS_SYNC) ? -errno : 0, 1);
    /* i_size inside page 6; a byte past it written through q2; a punch from page 5 past EOF
       takes page 6 whole (ext4_punch_hole: to the end of the page holding i_size) */
    step2("p2-truncate", ftruncate(fd2, 6 * 4096 + 1000) ? -errno : 0, 1);
    q2[6 * 4096 + 2000] = 0x66;
    step2("p2-past-eof-byte", (unsigned char)q2[6 * 4096 + 2000], 1);
    step2("p2-punch-eof", fa2(FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 5 * 4096 + 500, 1 << 20), 1);
    step2("p2-byte-5", byte_at2(5 * 4096 + 499), 1);
    step2("p2-byte-5b", byte_at2(5 * 4096 + 500), 1);
    step2("p2-sync3", msync(q2, 64 * K, MS_SYNC) ? -errno : 0, 1);
    step2("p2-grow", ftruncate(fd2, 64 * K) ? -errno : 0, 1);
    step2("p2-byte-6", byte_at2(6 * 4096 + 2000), 0);
    close(fd2);
    return 0;
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
    return phase2();
}
