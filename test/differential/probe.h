/*
 * What the differential probes share: how many of n pages from a are
 * present (/proc/self/pagemap bit 63) and how many are in the page cache
 * or memory (mincore), the task's page faults (getrusage), the swap
 * configured (/proc/meminfo), a /proc file read whole into a buffer, a
 * /proc/vmstat counter, a field of a mapping's smaps entry, a file of
 * known bytes, mincore's vector once it settles, a block device's
 * queue setting, a /proc/meminfo field and the median of readings.
 */
#ifndef VMLAB_PROBE_H
#define VMLAB_PROBE_H

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

/* pages of n from a that pagemap says are present; -1 when it cannot be read */
static inline long probe_present(const char *a, long n) {
    int fd = open("/proc/self/pagemap", O_RDONLY);
    if (fd < 0) return -1;
    long k = 0;
    for (long i = 0; i < n; i++) {
        uint64_t e = 0;
        if (pread(fd, &e, 8, (off_t)(((uintptr_t)a / 4096) + i) * 8) != 8) { close(fd); return -1; }
        k += (long)(e >> 63);
    }
    close(fd);
    return k;
}

/* pages of n from a that mincore reports resident; -1 on error */
static inline long probe_incore(char *a, long n) {
    unsigned char v[n];
    if (mincore(a, (size_t)n * 4096, v) != 0) return -1;
    long k = 0;
    for (long i = 0; i < n; i++) k += v[i] & 1;
    return k;
}

/* minor plus major faults of this task so far */
static inline long probe_faults(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_minflt + ru.ru_majflt;
}

/* this task's minor and major faults so far, apart */
static inline void probe_fault_counts(long *minor, long *major) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    *minor = ru.ru_minflt;
    *major = ru.ru_majflt;
}

/* SwapTotal from /proc/meminfo in kB; -1 when it cannot be read */
static inline long probe_swap_total_kb(void) {
    FILE *f = fopen("/proc/meminfo", "r");
    char l[256];
    long v = -1;
    while (f && fgets(l, sizeof l, f))
        if (sscanf(l, "SwapTotal: %ld", &v) == 1) break;
    if (f) fclose(f);
    return v;
}

/* the file at path into buf (size bytes) after a newline, so that every line, the first too,
 * follows one; its length, 0 when it cannot be opened */
static inline long probe_readfile(char *buf, long size, const char *path) {
    int fd = open(path, O_RDONLY);
    long n = 1, r;
    buf[0] = '\n';
    if (fd < 0) return 0;
    while (n < size - 1 && (r = read(fd, buf + n, size - 1 - n)) > 0) n += r;
    close(fd);
    buf[n] = 0;
    return n;
}

/* a /proc/vmstat counter, read through buf (size bytes); -1 if absent */
/* a field of /proc/meminfo in kB (field with its newline and colon: "\nShmem:"), or -1 */
static inline long probe_meminfo_kb(char *buf, long size, const char *field) {
    probe_readfile(buf, size, "/proc/meminfo");
    char *p = strstr(buf, field);
    return p ? strtol(p + strlen(field), NULL, 10) : -1;
}

static inline int probe_cmp_long(const void *a, const void *b) {
    long x = *(const long *)a, y = *(const long *)b;
    return (x > y) - (x < y);
}

/* the median of n readings (sorted in place): machine-wide counters move with other processes */
static inline long probe_median(long *v, int n) {
    qsort(v, n, sizeof *v, probe_cmp_long);
    return v[n / 2];
}

static inline long probe_vmstat(char *buf, long size, const char *name) {
    char key[64];
    probe_readfile(buf, size, "/proc/vmstat");
    snprintf(key, sizeof key, "\n%s ", name);
    char *p = strstr(buf, key);
    return p ? strtol(p + strlen(key), NULL, 10) : -1;
}

/* the number a /proc or sysfs file starts with; -1 when it cannot be read */
static inline long probe_read_long(const char *path) {
    FILE *f = fopen(path, "r");
    long v = -1;
    if (f) {
        if (fscanf(f, "%ld", &v) != 1) v = -1;
        fclose(f);
    }
    return v;
}

/* the number in the file `name` of directory `dir` (a path ending in '/'), read through buf; -1 if unreadable */
static inline long probe_dir_long(char *buf, long size, const char *dir, const char *name) {
    char path[256];
    snprintf(path, sizeof path, "%s%s", dir, name);
    return probe_readfile(buf, size, path) > 0 ? strtol(buf + 1, NULL, 10) : -1;
}

/* the bracketed word of a sysfs choice file ("always [madvise] never") into w (wsize bytes), the
   file read through buf (size bytes); -1 if unreadable */
static inline int probe_selected(char *buf, long size, const char *path, char *w, int wsize) {
    if (probe_readfile(buf, size, path) <= 0) return -1;
    char *l = strchr(buf, '['), *r = l ? strchr(l, ']') : NULL;
    if (!l || !r || r - l - 1 >= wsize) return -1;
    memcpy(w, l + 1, r - l - 1);
    w[r - l - 1] = 0;
    return 0;
}

/* a "Field:  N kB" line (kB) of the /proc/self/smaps entry of the mapping
   that starts at addr, read into buf; -1 if none starts there */
static inline long probe_smaps_kb(char *buf, long size, void *addr, const char *field) {
    char head[32];
    if (probe_readfile(buf, size, "/proc/self/smaps") < 0) return -1;
    snprintf(head, sizeof head, "\n%lx-", (unsigned long)(uintptr_t)addr);
    char *p = strstr(buf, head);
    if (!p) return -1;
    char *q = strstr(p, field);
    return q ? strtol(q + strlen(field), NULL, 10) : -1;
}

/* a file of `bytes` bytes of 0x33 at path, written and fsynced; its descriptor (O_RDWR), or -1 */
static inline int probe_make_file(const char *path, long bytes) {
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) return -1;
    static char fill[1 << 20];
    memset(fill, 0x33, sizeof fill);
    for (long i = 0; i < bytes; i += sizeof fill) {
        long n = bytes - i < (long)sizeof fill ? bytes - i : (long)sizeof fill;
        if (write(fd, fill, n) != n) { close(fd); return -1; }
    }
    fsync(fd);
    return fd;
}

/* mincore's vector over n pages from a as a string of '0' and '1' (malloc'd), or "error" */
static inline char *probe_mincore_vec(char *a, long n) {
    unsigned char *v = malloc(n);
    char *s = malloc(n + 1);
    if (mincore(a, n * 4096L, v) != 0) return "error";
    for (long i = 0; i < n; i++) s[i] = (char)('0' + (v[i] & 1));
    s[n] = 0;
    free(v);
    return s;
}

/* the vector once it has not changed for 10 looks `ms` apart (at most `looks` looks):
   the reads the kernel still has in flight have landed */
static inline char *probe_mincore_settled(char *a, long n, long ms, int looks) {
    char *last = probe_mincore_vec(a, n);
    struct timespec ts = {0, ms * 1000 * 1000};
    for (int same = 0, i = 0; same < 10 && i < looks; i++) {
        nanosleep(&ts, NULL);
        char *now = probe_mincore_vec(a, n);
        same = strcmp(now, last) == 0 ? same + 1 : 0;
        last = now;
    }
    return last;
}

/* a number from the block device's queue directory in sysfs (read_ahead_kb,
   max_sectors_kb) for the device d (a partition's is its disk's); -1 when absent */
static inline long probe_queue_value(dev_t d, const char *name) {
    char path[256];
    const char *fmt[] = {"/sys/dev/block/%u:%u/queue/%s", "/sys/dev/block/%u:%u/../queue/%s"};
    for (int i = 0; i < 2; i++) {
        snprintf(path, sizeof path, fmt[i], major(d), minor(d), name);
        FILE *f = fopen(path, "r");
        if (f == NULL) continue;
        long v = -1;
        if (fscanf(f, "%ld", &v) != 1) v = -1;
        fclose(f);
        return v;
    }
    return -1;
}

/* an errno's name as the probes report it ("0" for success, "E<n>" for one not named here;
   probeKit.ts errnoName is the same table for vmlab's -errno) */
static inline const char *probe_errname(int e) {
    static char other[16];
    switch (e) {
    case 0: return "0";
    case EPERM: return "EPERM";
    case EAGAIN: return "EAGAIN";
    case ENOMEM: return "ENOMEM";
    case EINVAL: return "EINVAL";
    case EFAULT: return "EFAULT";
    case EACCES: return "EACCES";
    case EEXIST: return "EEXIST";
    case EBUSY: return "EBUSY";
    case EOPNOTSUPP: return "EOPNOTSUPP";
    default: snprintf(other, sizeof other, "E%d", e); return other;
    }
}

#endif
