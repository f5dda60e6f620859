/*
 * Differential probe of a 64K mTHP folio swapped out (mm/vmscan.c
 * shrink_folio_list -> add_to_swap; mm/madvise.c
 * madvise_cold_or_pageout_pte_range). The host has no swap: as root, the
 * probe makes a 16 MiB swap file on the root filesystem
 * (/var/tmp/vmlab-mthpswap.swap: not tmpfs), mkswap, swapon, and sets
 * hugepages-64kB/enabled to madvise; at its end, on every path out (exit,
 * SIGINT, SIGTERM, SIGHUP, SIGSEGV...), it swaps off, deletes the file and
 * writes the knob's old value back. It refuses (a "skip" record) if swap is
 * already on, or the knob or stats are missing.
 *
 * A 256 KiB MADV_HUGEPAGE anonymous mapping at 0x20000000 is written whole
 * (four 64K folios), then:
 *   whole:   MADV_PAGEOUT of the first 64K: the folio whole
 *   part:    MADV_PAGEOUT of +80K..+112K (half of the second folio)
 * Each step reports: the pages of the step's folio that are swap entries
 * (pagemap bit 62), whether their swap offsets are consecutive and the first
 * aligned to 16 (1/0), and the changes of hugepages-64kB/stats swpout,
 * swpout_fallback, split and of /proc/vmstat pswpout since the step began.
 * One JSON object per step; mthpswap.test.ts runs the same steps on vmlab.
 * Also one "device" record: the swap device's queue/rotational (the file's
 * filesystem's block device).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/swap.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "probe.h"

#define PG 4096L
#define KB 1024L
#define KNOB "/sys/kernel/mm/transparent_hugepage/hugepages-64kB/enabled"
#define STATS "/sys/kernel/mm/transparent_hugepage/hugepages-64kB/stats/"
#define SWAPFILE "/var/tmp/vmlab-mthpswap.swap"
#define SWAPBYTES (16L << 20)

static char buf[1 << 16];
static char saved[32];
static int swapped_on, made_file;

#define readfile(path) probe_readfile(buf, sizeof buf, path)

static int writeknob(const char *v) {
    int fd = open(KNOB, O_WRONLY);
    if (fd < 0) return -1;
    long n = write(fd, v, strlen(v));
    close(fd);
    return n == (long)strlen(v) ? 0 : -1;
}

/* swapoff, delete, the knob back: whatever was done so far */
static void cleanup(void) {
    if (swapped_on) swapoff(SWAPFILE);
    swapped_on = 0;
    if (made_file) unlink(SWAPFILE);
    made_file = 0;
    if (saved[0]) writeknob(saved);
    saved[0] = 0;
}

static void on_signal(int sig) {
    cleanup();
    signal(sig, SIG_DFL);
    raise(sig);
}

#define selected(path, w, size) probe_selected(buf, sizeof buf, path, w, size)

#define stat64k(name) probe_dir_long(buf, sizeof buf, STATS, name)

struct counts {
    long swpout, fallback, split, pswpout;
};

static struct counts now(void) {
    struct counts c = {stat64k("swpout"), stat64k("swpout_fallback"), stat64k("split"),
                       probe_vmstat(buf, sizeof buf, "pswpout")};
    return c;
}

/* pagemap of `n` pages from `a`: how many are swap entries; consecutive offsets; first aligned to 16 */
static void swapinfo(char *a, long n, long *swapped, int *consecutive, int *aligned) {
    int fd = open("/proc/self/pagemap", O_RDONLY);
    uint64_t e[64];
    *swapped = 0;
    *consecutive = 1;
    *aligned = 0;
    if (fd < 0 || pread(fd, e, n * 8, ((uintptr_t)a / PG) * 8) != n * 8) {
        if (fd >= 0) close(fd);
        return;
    }
    close(fd);
    uint64_t first = 0;
    for (long i = 0; i < n; i++) {
        if (!(e[i] >> 62 & 1)) {
            *consecutive = 0;
            continue;
        }
        uint64_t off = (e[i] >> 5) & ((1ULL << 50) - 1);
        if (*swapped == 0) {
            first = off;
            *aligned = first % 16 == 0;
        } else if (off != first + i)
            *consecutive = 0;
        (*swapped)++;
    }
}

static void report(const char *exp, char *a, long n, struct counts b) {
    struct counts c = now();
    long sw;
    int cons, al;
    swapinfo(a, n, &sw, &cons, &al);
    printf("{\"exp\":\"%s\",\"swapped\":%ld,\"consecutive\":%d,\"aligned\":%d,\"swpout\":%ld,"
           "\"swpout_fallback\":%ld,\"split\":%ld,\"pswpout\":%ld}\n",
           exp, sw, cons, al, c.swpout - b.swpout, c.fallback - b.fallback, c.split - b.split,
           c.pswpout - b.pswpout);
}

static int skip(const char *why) {
    printf("{\"exp\":\"skip\",\"why\":\"%s\"}\n", why);
    cleanup();
    return 0;
}

int main(void) {
    if (geteuid() != 0) return skip("not root");
    if (stat64k("swpout") < 0) return skip("no hugepages-64kB/stats/swpout");
    if (probe_swap_total_kb() != 0) return skip("swap is already on");
    if (access(SWAPFILE, F_OK) == 0) return skip(SWAPFILE " exists");
    if (selected(KNOB, saved, sizeof saved) < 0) return skip("no hugepages-64kB/enabled");
    atexit(cleanup);
    int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGSEGV, SIGBUS, SIGABRT};
    for (unsigned i = 0; i < sizeof sigs / sizeof *sigs; i++) signal(sigs[i], on_signal);

    int fd = open(SWAPFILE, O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (fd < 0) return skip("cannot create the swap file");
    made_file = 1;
    static char zero[1 << 16];
    for (long done = 0; done < SWAPBYTES; done += sizeof zero)
        if (write(fd, zero, sizeof zero) != (long)sizeof zero) return skip("cannot write the swap file");
    fsync(fd);
    struct stat st;
    fstat(fd, &st);
    close(fd);
    char dev[128];
    snprintf(dev, sizeof dev, "/sys/dev/block/%u:%u/queue/rotational", major(st.st_dev), minor(st.st_dev));
    long rot = readfile(dev) > 0 ? strtol(buf, NULL, 10) : -1;
    if (rot < 0) { /* a partition: its disk's queue */
        snprintf(dev, sizeof dev, "/sys/dev/block/%u:%u/../queue/rotational", major(st.st_dev),
                 minor(st.st_dev));
        rot = readfile(dev) > 0 ? strtol(buf, NULL, 10) : -1;
    }
    if (system("mkswap " SWAPFILE " >/dev/null 2>&1") != 0) return skip("mkswap failed");
    if (swapon(SWAPFILE, 0) != 0) return skip("swapon refused the file");
    swapped_on = 1;
    printf("{\"exp\":\"device\",\"rotational\":%ld}\n", rot);
    if (writeknob("madvise") < 0) return skip("cannot write hugepages-64kB/enabled");

    char *a = mmap((void *)0x20000000, 256 * KB, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    if (a == MAP_FAILED) return skip("mmap at 0x20000000 failed");
    madvise(a, 256 * KB, MADV_HUGEPAGE);
    for (long i = 0; i < 256 * KB; i += PG) a[i] = (char)(1 + i / PG);

    struct counts b = now();
    madvise(a, 64 * KB, MADV_PAGEOUT);
    report("whole", a, 16, b);
    b = now();
    madvise(a + 80 * KB, 32 * KB, MADV_PAGEOUT);
    report("part", a + 80 * KB, 8, b);
    int ok = 1;
    for (long i = 0; i < 256 * KB; i += PG) ok &= a[i] == (char)(1 + i / PG);
    printf("{\"exp\":\"readback\",\"ok\":%d}\n", ok);
    munmap(a, 256 * KB);
    cleanup();
    return 0;
}
