/*
 * Differential probe for open file descriptions (struct file: f_pos, f_ra)
 * shared by fork or made by open(2), and for read(2) marking the folios it
 * copies accessed (mm/filemap.c filemap_read: folio_mark_accessed). Pinned
 * to CPU 0 (the per-CPU LRU batches are that CPU's). Each case drops the
 * file's cache first (POSIX_FADV_DONTNEED) and checks nothing is left.
 * "fork": the parent opens the file, reads 5 pages (4K read(2)s), forks;
 * the child reads 5 and exits; the parent reads 5 more: one struct file,
 * one position and one readahead stream. "opens": the same, but the child
 * open(2)s the file itself: its own position and window. Both print the
 * residency (mincore, settled) and the parent's final position.
 * "once", "twice", "same": a 64-page file read whole once in 4K reads,
 * twice (lseek back to 0 in between), or 40 reads of 100 bytes (all in
 * page 0) then one of 200 (into page 1); then lru_add_drain (a DONTNEED on
 * another file) and each page's PG_active and PG_referenced through
 * /proc/kpageflags (the page faulted into a mapping for its PFN: faults
 * do not mark accessed): 'A' active, 'R' referenced, 'B' both, '-' none,
 * '?' not cached. "shm_written", "shm_read": a tmpfs file (/dev/shm) of 16
 * pages made by write(2), its pages' letters, then after one read of it.
 * "zap", "zap_twice": the 64-page file mapped (at an aligned address), pages
 * 0 and 40 read through the mapping (faults, fault-around: on x86 the pages
 * it maps are young too), the mapping unmapped (zap_pte_range
 * marks the folios of young PTEs accessed), once or twice, then the
 * letters through a new mapping.
 * The first line is the device's read_ahead_kb.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "probe.h"

#define PG 4096L

static char buf[1 << 16];

#define settled(a, n) probe_mincore_settled(a, n, 5, 1000)

/* drops the file's cache through `fd`; 0 if nothing is left of the n pages mapped at a */
static int drop(int fd, char *a, long n) {
    posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    return strchr(settled(a, n), '1') == NULL ? 0 : -1;
}

static void read_n(int fd, int n) {
    for (int i = 0; i < n; i++)
        if (read(fd, buf, PG) != PG) exit(3);
}

/* "fork" (child_opens 0) or "opens" (1) */
static void fork_case(const char *exp, const char *path, long pages, int child_opens) {
    int fd = open(path, O_RDONLY);
    char *a = mmap(NULL, pages * PG, PROT_READ, MAP_SHARED, fd, 0);
    if (fd < 0 || a == MAP_FAILED || drop(fd, a, pages) < 0) {
        printf("{\"exp\":\"%s\",\"skip\":\"cannot drop the file's cache\"}\n", exp);
        return;
    }
    read_n(fd, 5);
    pid_t p = fork();
    if (p == 0) {
        int cfd = child_opens ? open(path, O_RDONLY) : fd;
        read_n(cfd, 5);
        _exit(0);
    }
    waitpid(p, NULL, 0);
    read_n(fd, 5);
    printf("{\"exp\":\"%s\",\"pos\":%ld,\"vec\":\"%s\"}\n", exp, (long)lseek(fd, 0, SEEK_CUR), settled(a, pages));
    munmap(a, pages * PG);
    close(fd);
}

/*
 * After lru_add_drain (a DONTNEED of the file `ofd`, on this CPU), each of the n pages mapped
 * at a: its flags' letter (see the top), printed as the case `exp`.
 */
static void print_flags(const char *exp, char *a, long pages, int ofd) {
    posix_fadvise(ofd, 0, 0, POSIX_FADV_DONTNEED); /* lru_add_drain on this CPU */
    settled(a, pages);
    char s[pages + 1];
    int pm = open("/proc/self/pagemap", O_RDONLY), kf = open("/proc/kpageflags", O_RDONLY);
    unsigned char v[pages];
    mincore(a, pages * PG, v);
    for (long i = 0; i < pages; i++) {
        s[i] = '?';
        if (!(v[i] & 1)) continue;
        volatile char c = a[i * PG]; /* a read fault maps the cached page (no folio_mark_accessed) */
        (void)c;
        uint64_t e = 0, f = 0;
        if (pm < 0 || kf < 0 || pread(pm, &e, 8, (off_t)((uintptr_t)a / PG + i) * 8) != 8 || !(e >> 63)) continue;
        uint64_t pfn = e & ((1ULL << 55) - 1);
        if (pfn == 0 || pread(kf, &f, 8, (off_t)pfn * 8) != 8) {
            printf("{\"exp\":\"%s\",\"skip\":\"no PFNs or no /proc/kpageflags\"}\n", exp);
            return;
        }
        int ref = f >> 2 & 1, act = f >> 6 & 1; /* KPF_REFERENCED, KPF_ACTIVE */
        s[i] = act ? (ref ? 'B' : 'A') : (ref ? 'R' : '-');
    }
    s[pages] = 0;
    printf("{\"exp\":\"%s\",\"flags\":\"%s\"}\n", exp, s);
    if (pm >= 0) close(pm);
    if (kf >= 0) close(kf);
}

/* "shm_written", "shm_read": a tmpfs file of 16 pages made by write(2), then read once */
static void shm_case(const char *other) {
    char path[64];
    snprintf(path, sizeof path, "/dev/shm/vmlab-openfile-%d", (int)getpid());
    int fd = probe_make_file(path, 16 * PG), ofd = open(other, O_RDONLY);
    char *a = fd < 0 ? MAP_FAILED : mmap(NULL, 16 * PG, PROT_READ, MAP_SHARED, fd, 0);
    if (a == MAP_FAILED || ofd < 0) {
        printf("{\"exp\":\"shm_written\",\"skip\":\"no /dev/shm file\"}\n");
        printf("{\"exp\":\"shm_read\",\"skip\":\"no /dev/shm file\"}\n");
    } else {
        print_flags("shm_written", a, 16, ofd);
        /* the mapping stays until the end: zap_pte_range marks the folios of young PTEs accessed */
        lseek(fd, 0, SEEK_SET);
        read_n(fd, 16);
        print_flags("shm_read", a, 16, ofd);
        munmap(a, 16 * PG);
    }
    if (fd >= 0) close(fd);
    if (ofd >= 0) close(ofd);
    unlink(path);
}

/* "zap", "zap_twice": map, read pages 0 and 40, munmap, `times` times; then the letters */
static void zap_case(const char *exp, const char *path, const char *other, long pages, int times) {
    int fd = open(path, O_RDONLY), ofd = open(other, O_RDONLY);
    char *a = mmap(NULL, pages * PG, PROT_READ, MAP_SHARED, fd, 0);
    if (fd < 0 || ofd < 0 || a == MAP_FAILED || drop(fd, a, pages) < 0) {
        printf("{\"exp\":\"%s\",\"skip\":\"cannot drop the file's cache\"}\n", exp);
        return;
    }
    munmap(a, pages * PG);
    for (int i = 0; i < times; i++) {
        /* at an address aligned to 64 pages: fault-around's windows are aligned in the address space */
        char *m = mmap((void *)0x200000000000UL, pages * PG, PROT_READ, MAP_SHARED | MAP_FIXED_NOREPLACE, fd, 0);
        if (m == MAP_FAILED) {
            printf("{\"exp\":\"%s\",\"skip\":\"no mapping at 0x200000000000\"}\n", exp);
            return;
        }
        volatile char c = m[0] + m[40 * PG];
        (void)c;
        munmap(m, pages * PG);
    }
    a = mmap(NULL, pages * PG, PROT_READ, MAP_SHARED, fd, 0);
    print_flags(exp, a, pages, ofd);
    munmap(a, pages * PG);
    close(fd);
    close(ofd);
}

/* "once", "twice", "same": each page's active/referenced bits after the reads */
static void flags_case(const char *exp, const char *path, const char *other, long pages) {
    int fd = open(path, O_RDONLY), ofd = open(other, O_RDONLY);
    char *a = mmap(NULL, pages * PG, PROT_READ, MAP_SHARED, fd, 0);
    if (fd < 0 || ofd < 0 || a == MAP_FAILED || drop(fd, a, pages) < 0) {
        printf("{\"exp\":\"%s\",\"skip\":\"cannot drop the file's cache\"}\n", exp);
        return;
    }
    if (strcmp(exp, "same") == 0) {
        for (int i = 0; i < 40; i++) read(fd, buf, 100);
        read(fd, buf, 200);
    } else {
        for (int pass = 0; pass < (strcmp(exp, "twice") == 0 ? 2 : 1); pass++) {
            lseek(fd, 0, SEEK_SET);
            read_n(fd, pages);
        }
    }
    print_flags(exp, a, pages, ofd);
    munmap(a, pages * PG);
    close(fd);
    close(ofd);
}

int main(int argc, char **argv) {
    if (argc != 2) return 2;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(0, &set);
    sched_setaffinity(0, sizeof set, &set);
    char path[512], small[512], other[512];
    snprintf(path, sizeof path, "%s/data", argv[1]);
    snprintf(small, sizeof small, "%s/small", argv[1]);
    snprintf(other, sizeof other, "%s/other", argv[1]);
    int fds[3] = {probe_make_file(path, 256 * PG), probe_make_file(small, 64 * PG), probe_make_file(other, PG)};
    for (int i = 0; i < 3; i++) {
        if (fds[i] < 0) {
            printf("{\"exp\":\"skip\",\"why\":\"cannot write the files\"}\n");
            return 0;
        }
        fsync(fds[i]); /* clean pages: DONTNEED drops them */
        close(fds[i]);
    }
    struct stat st;
    stat(path, &st);
    long ra_kb = probe_queue_value(st.st_dev, "read_ahead_kb");
    if (ra_kb < 0) {
        printf("{\"exp\":\"skip\",\"why\":\"no block queue in sysfs for the file's device\"}\n");
        unlink(path);
        unlink(small);
        unlink(other);
        return 0;
    }
    printf("{\"exp\":\"bdi\",\"ra_kb\":%ld}\n", ra_kb);
    fork_case("fork", path, 256, 0);
    fork_case("opens", path, 256, 1);
    flags_case("once", small, other, 64);
    flags_case("twice", small, other, 64);
    flags_case("same", small, other, 64);
    shm_case(other);
    zap_case("zap", small, other, 64, 1);
    zap_case("zap_twice", small, other, 64, 2);
    unlink(path);
    unlink(small);
    unlink(other);
    return 0;
}
