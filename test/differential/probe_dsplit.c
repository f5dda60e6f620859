/*
 * Differential probe of the deferred split of a transparent huge page: a
 * 2 MiB PMD-aligned anonymous mapping with MADV_HUGEPAGE is written (one
 * huge page), then its second half is unmapped (munmap: __split_huge_pmd,
 * then the folio is queued partially mapped, deferred_split_folio). Each
 * step reports the mapping's Rss and AnonHugePages (/proc/self/smaps, kB)
 * and the change in /proc/vmstat's thp_deferred_split_page, thp_split_pmd
 * and thp_split_page since the start. One JSON object per step;
 * dsplit.test.ts runs the same steps as a .vm scenario and compares.
 *
 * The vmstat counters are the whole machine's: another process may move
 * them too, so the test keeps the run with the smallest changes. Nothing
 * between two readings allocates memory: files are read with read(2) into
 * a buffer faulted in first, and all output is printed at the end.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "probe.h"

#define PG 4096L
#define MB (1024L * 1024L)

static char buf[1 << 20];
static char out[1 << 12];
static int outlen;

#define readfile(path) probe_readfile(buf, sizeof buf, path)
#define vmstat(name) probe_vmstat(buf, sizeof buf, name)

#define smaps_kb(addr, field) probe_smaps_kb(buf, sizeof buf, addr, field)

#define REC(...) (outlen += snprintf(out + outlen, sizeof out - outlen, __VA_ARGS__))

int main(void) {
    readfile("/proc/vmstat"); /* fault in the buffer */
    readfile("/proc/self/smaps");
    memset(out, 0, sizeof out);
    if (vmstat("thp_deferred_split_page") < 0) {
        printf("{\"exp\":\"host\",\"skip\":\"no thp_deferred_split_page in /proc/vmstat\"}\n");
        return 0;
    }
    /* 2 MiB at 512 MiB, MADV_HUGEPAGE, every page written */
    char *a = mmap((void *)0x20000000UL, 2 * MB, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    if (a != (void *)0x20000000UL) {
        printf("{\"exp\":\"host\",\"skip\":\"mmap at 0x20000000 failed\"}\n");
        return 0;
    }
    madvise(a, 2 * MB, MADV_HUGEPAGE);
    long d0 = vmstat("thp_deferred_split_page"), p0 = vmstat("thp_split_pmd"), s0 = vmstat("thp_split_page");
    for (long i = 0; i < 2 * MB; i += PG) ((volatile char *)a)[i] = 1;
    REC("{\"exp\":\"touch\",\"rss_kb\":%ld,\"huge_kb\":%ld,\"deferred\":%ld,\"split_pmd\":%ld,"
        "\"split_page\":%ld}\n",
        smaps_kb(a, "\nRss:"), smaps_kb(a, "\nAnonHugePages:"), vmstat("thp_deferred_split_page") - d0,
        vmstat("thp_split_pmd") - p0, vmstat("thp_split_page") - s0);
    /* the second half unmapped */
    munmap(a + MB, MB);
    REC("{\"exp\":\"unmap\",\"rss_kb\":%ld,\"huge_kb\":%ld,\"deferred\":%ld,\"split_pmd\":%ld,"
        "\"split_page\":%ld}\n",
        smaps_kb(a, "\nRss:"), smaps_kb(a, "\nAnonHugePages:"), vmstat("thp_deferred_split_page") - d0,
        vmstat("thp_split_pmd") - p0, vmstat("thp_split_page") - s0);
    fputs(out, stdout);
    return 0;
}
