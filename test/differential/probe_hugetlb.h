/*
 * What the HugeTLB probes (probe_hugetlb.c, probe_hugetlbfs.c) share: the
 * pool's sysctls read and written (and written back by restore()), the
 * HugePages_* of /proc/meminfo after a step as a JSON line, a mapping's
 * smaps fields, and a touch that reports SIGBUS.
 */
#ifndef VMLAB_PROBE_HUGETLB_H
#define VMLAB_PROBE_HUGETLB_H

#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "probe.h"

#define HPAGE (2L << 20)

static long old_nr = -1, old_over = -1;

#define read_long probe_read_long

static int write_long(const char *path, long v) {
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    int ok = fprintf(f, "%ld\n", v) > 0;
    return fclose(f) == 0 && ok ? 0 : -1;
}

static void restore(void) {
    if (old_over >= 0) write_long("/proc/sys/vm/nr_overcommit_hugepages", old_over);
    if (old_nr >= 0) write_long("/proc/sys/vm/nr_hugepages", old_nr);
}

static void report(const char *exp, long ret) {
    FILE *f = fopen("/proc/meminfo", "r");
    char line[256];
    long total = -1, fr = -1, rsvd = -1, surp = -1;
    while (f && fgets(line, sizeof line, f)) {
        sscanf(line, "HugePages_Total: %ld", &total);
        sscanf(line, "HugePages_Free: %ld", &fr);
        sscanf(line, "HugePages_Rsvd: %ld", &rsvd);
        sscanf(line, "HugePages_Surp: %ld", &surp);
    }
    if (f) fclose(f);
    printf("{\"exp\":\"%s\",\"ret\":%ld,\"total\":%ld,\"free\":%ld,\"rsvd\":%ld,\"surp\":%ld}\n", exp, ret, total,
           fr, rsvd, surp);
    fflush(stdout);
}

/* the smaps fields of the VMA starting at `a`: page sizes, Rss, *_Hugetlb, VmFlags */
static void smaps(const char *exp, char *a) {
    FILE *f = fopen("/proc/self/smaps", "r");
    char line[512], want[32];
    long kps = -1, mps = -1, rss = -1, sh = -1, pr = -1;
    char flags[512] = "";
    int in = 0;
    snprintf(want, sizeof want, "%lx-", (unsigned long)a);
    while (f && fgets(line, sizeof line, f)) {
        if (strncmp(line, want, strlen(want)) == 0) in = 1;
        else if (!in) continue;
        sscanf(line, "KernelPageSize: %ld", &kps);
        sscanf(line, "MMUPageSize: %ld", &mps);
        sscanf(line, "Rss: %ld", &rss);
        sscanf(line, "Shared_Hugetlb: %ld", &sh);
        sscanf(line, "Private_Hugetlb: %ld", &pr);
        if (strncmp(line, "VmFlags:", 8) == 0) {
            snprintf(flags, sizeof flags, "%s", line + 9);
            flags[strcspn(flags, "\n")] = 0;
            break;
        }
    }
    if (f) fclose(f);
    printf("{\"exp\":\"%s\",\"KernelPageSize\":%ld,\"MMUPageSize\":%ld,\"Rss\":%ld,\"Shared_Hugetlb\":%ld,"
           "\"Private_Hugetlb\":%ld,\"VmFlags\":\"%s\"}\n",
           exp, kps, mps, rss, sh, pr, flags);
    fflush(stdout);
}

static sigjmp_buf jb;
static void on_bus(int sig) {
    (void)sig;
    siglongjmp(jb, 1);
}

/* touches page `off` of `a`; 1 if it raised SIGBUS */
static int touch_bus(char *a, long off) {
    if (sigsetjmp(jb, 1)) return 1;
    *(volatile char *)(a + off) = 1;
    return 0;
}


/* the pool set to n pages (nr_overcommit_hugepages 0), written back at exit; 0, or -1 after a
   "skip" record when another user's pool is set or the write does not take */
static int set_pool(long n) {
    old_nr = read_long("/proc/sys/vm/nr_hugepages");
    old_over = read_long("/proc/sys/vm/nr_overcommit_hugepages");
    if (old_nr != 0 || old_over != 0) {
        /* another user of the pool: its counts would mix with ours */
        printf("{\"exp\":\"skip\",\"why\":\"nr_hugepages %ld, nr_overcommit_hugepages %ld already set\"}\n", old_nr,
               old_over);
        return -1;
    }
    atexit(restore);
    if (write_long("/proc/sys/vm/nr_overcommit_hugepages", 0) != 0 ||
        write_long("/proc/sys/vm/nr_hugepages", n) != 0 || read_long("/proc/sys/vm/nr_hugepages") != n) {
        printf("{\"exp\":\"skip\",\"why\":\"cannot set nr_hugepages to %ld\"}\n", n);
        return -1;
    }
    return 0;
}

#endif
