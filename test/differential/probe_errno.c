/*
 * The memory system calls' argument checks and error paths on this
 * machine's kernel: mmap, munmap, mprotect, mremap, madvise, msync, mlock,
 * munlock, mincore and brk called with arguments each meant to fail one check
 * (or to pass them all at an edge), and what each left behind where a
 * failure changes something first (the part of a range mprotect or mlock
 * changed before a hole, the target a failing MREMAP_FIXED unmapped).
 * Every case works in [A, A + 1 GiB), emptied after it; a file of 64 KiB
 * is opened read-only and read-write. One JSON line per record:
 * {"exp":NAME,"r":RESULT}, RESULT "0", an errno's name, where a mapping
 * landed ("A", "B", "moved"; a low one in hex), a mapping's permissions as
 * /proc/self/maps prints them ("rw-p", "none" for no mapping), a page's
 * "mapped"/"unmapped", or VmLck in kB; brk's "0" when the break moved
 * where it was asked to, else "ENOMEM" (sys_brk returns the old break).
 */
#define _GNU_SOURCE
#include "probe.h"
#include <errno.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#define P 4096UL
#define A 0x200000000000UL
#define B 0x210000000000UL
#define TASK_SIZE 0x7ffffffff000UL
#define RW (PROT_READ | PROT_WRITE)
#define PRIV (MAP_PRIVATE | MAP_ANONYMOUS)

static char buf[1 << 16];
static int rofd, rwfd;

static const char *ename(int e) { return probe_errname(e); }

static void rec(const char *exp, const char *r) { printf("{\"exp\":\"%s\",\"r\":\"%s\"}\n", exp, r); }

/* a call returning 0 or -1 with errno */
static void rc(const char *exp, long ret) { rec(exp, ret == 0 ? "0" : ret == -1 ? ename(errno) : "other"); }

/* mmap or mremap's result: its errno, or where it landed (a: "A", b: "B", anything else "moved") */
static void rp(const char *exp, void *p, unsigned long a, unsigned long b) {
    if (p == MAP_FAILED) rec(exp, ename(errno));
    else rec(exp, (unsigned long)p == a ? "A" : (unsigned long)p == b ? "B" : "moved");
}

/* an anonymous private mapping of n pages at addr with prot (MAP_FIXED_NOREPLACE: the area is empty) */
static void map(unsigned long addr, unsigned long n, int prot) {
    if (mmap((void *)addr, n * P, prot, PRIV | MAP_FIXED_NOREPLACE, -1, 0) != (void *)addr) {
        fprintf(stderr, "map %lx: %s\n", addr, strerror(errno));
        exit(1);
    }
}

/* "mapped" or "unmapped": whether a VMA covers the page at addr (mincore's ENOMEM) */
static const char *mapped(unsigned long addr) {
    unsigned char v;
    return mincore((void *)addr, P, &v) == 0 ? "mapped" : "unmapped";
}

/* the permissions /proc/self/maps prints for the VMA holding addr, or "none" */
static void perms(const char *exp, unsigned long addr) {
    probe_readfile(buf, sizeof buf, "/proc/self/maps");
    for (char *l = buf; *l; ) {
        unsigned long s, e;
        char p[5];
        if (sscanf(l, "%lx-%lx %4s", &s, &e, p) == 3 && s <= addr && addr < e) { rec(exp, p); return; }
        char *nl = strchr(l, '\n');
        if (!nl) break;
        l = nl + 1;
    }
    rec(exp, "none");
}

/* the page at addr resident ("1") or not ("0") by mincore */
static void resident(const char *exp, unsigned long addr) {
    unsigned char v = 0;
    rec(exp, mincore((void *)addr, P, &v) == 0 ? (v & 1 ? "1" : "0") : ename(errno));
}

static void vmlck(const char *exp) {
    char kb[32];
    probe_readfile(buf, sizeof buf, "/proc/self/status");
    char *p = strstr(buf, "\nVmLck:");
    snprintf(kb, sizeof kb, "%ld", p ? strtol(p + 7, NULL, 10) : -1L);
    rec(exp, kb);
}

static void clean(void) {
    munlockall();
    munmap((void *)A, 1UL << 30);
    munmap((void *)B, 1UL << 30);
}

static void *xmremap(unsigned long old, unsigned long oldlen, unsigned long newlen, int flags, unsigned long to) {
    return (void *)syscall(SYS_mremap, old, oldlen, newlen, flags, to);
}

static void madv(const char *exp, unsigned long addr, unsigned long len, int advice) {
    rc(exp, madvise((void *)addr, len, advice));
}

/* the raw brk system call to `to`: "0" when the break is there after, else "ENOMEM" (sys_brk returns the old break) */
static void brk_to(const char *exp, unsigned long to) {
    rec(exp, (unsigned long)syscall(SYS_brk, to) == to ? "0" : "ENOMEM");
}

int main(void) {
    char path[] = "/tmp/vmlab-errno-XXXXXX";
    rwfd = mkstemp(path);
    if (rwfd < 0 || ftruncate(rwfd, 16 * P) != 0) return 1;
    rofd = open(path, O_RDONLY);
    unlink(path);
    if (rofd < 0) return 1;
    setvbuf(stdout, NULL, _IOLBF, 0);
    /* vmlab's task is uid 0 with every capability: mlock's cases need CAP_IPC_LOCK (no RLIMIT_MEMLOCK) */
    probe_readfile(buf, sizeof buf, "/proc/self/status");
    char *cap = strstr(buf, "\nCapEff:");
    if (!cap || !(strtoull(cap + 8, NULL, 16) >> 14 & 1)) {
        rec("skip", "no CAP_IPC_LOCK");
        return 0;
    }
    {
        /* the cases' TASK_SIZE is x86-64's with 4 levels: a hint above 2^47 is honoured only with 5 */
        void *p = mmap((void *)(1UL << 48), P, RW, PRIV, -1, 0);
        if (p != MAP_FAILED) munmap(p, P);
        if (p == (void *)(1UL << 48)) {
            rec("skip", "5-level paging");
            return 0;
        }
    }
    clean();

    /* ---- mmap: arch sys_mmap's offset check, then do_mmap, __get_unmapped_area ---- */
    rp("mmap_len0", mmap(NULL, 0, RW, PRIV, -1, 0), A, B);
    rp("mmap_anon_offset_unaligned", mmap(NULL, P, RW, PRIV, -1, 1), A, B);
    clean();
    rp("mmap_fixed_unaligned", mmap((void *)(A + 1), P, RW, PRIV | MAP_FIXED, -1, 0), A, B);
    rp("mmap_hint_unaligned", mmap((void *)(A + 1), P, RW, PRIV, -1, 0), A, A + P);
    clean();
    rp("mmap_hint_page_up", mmap((void *)(A + P - 1), P, RW, PRIV, -1, 0), A, A + P);
    clean();
    rp("mmap_len_huge", mmap(NULL, 1UL << 48, RW, PRIV | MAP_NORESERVE, -1, 0), A, B);
    rp("mmap_len_overflow", mmap(NULL, -1UL, RW, PRIV, -1, 0), A, B);
    {
        void *p = mmap((void *)0x900000000000UL, P, RW, PRIV, -1, 0);
        rec("mmap_hint_above_task_size", p == MAP_FAILED ? ename(errno) : "0");
        if (p != MAP_FAILED) munmap(p, P);
    }
    {
        /* round_hint_to_min: a hint below mmap_min_addr (the LSM's, 64 KiB, where it is above the sysctl's) */
        char at[32];
        void *p = mmap((void *)P, P, RW, PRIV, -1, 0);
        snprintf(at, sizeof at, "%#lx", (unsigned long)p);
        rec("mmap_hint_below_min", p == MAP_FAILED ? ename(errno) : (unsigned long)p < (1UL << 20) ? at : "moved");
        if (p != MAP_FAILED) munmap(p, P);
    }
    rp("mmap_fixed_at_task_size", mmap((void *)TASK_SIZE, P, RW, PRIV | MAP_FIXED, -1, 0), A, B);
    rp("mmap_fixed_unaligned_past_task_size",
       mmap((void *)(TASK_SIZE - P + 1), 2 * P, RW, PRIV | MAP_FIXED, -1, 0), A, B);
    rp("mmap_fixed_last_page", mmap((void *)(TASK_SIZE - P), P, RW, PRIV | MAP_FIXED, -1, 0), TASK_SIZE - P, B);
    munmap((void *)(TASK_SIZE - P), P);
    rp("mmap_shared_rdonly_file_write", mmap((void *)A, P, RW, MAP_SHARED, rofd, 0), A, B);
    rp("mmap_private_rdonly_file_write", mmap((void *)A, P, RW, MAP_PRIVATE, rofd, 0), A, B);
    clean();
    rp("mmap_shared_rdonly_file_read", mmap((void *)A, P, PROT_READ, MAP_SHARED, rofd, 0), A, B);
    clean();
    rp("mmap_file_offset_unaligned", mmap((void *)A, P, RW, MAP_SHARED, rwfd, 1), A, B);
    rp("mmap_fixed_rdonly_file_write_past_task_size",
       mmap((void *)(TASK_SIZE - P), 2 * P, RW, MAP_SHARED | MAP_FIXED, rofd, 0), A, B);
    rp("mmap_fixed_replaces", (map(A, 4, RW), mmap((void *)(A + P), P, PROT_READ, PRIV | MAP_FIXED, -1, 0)),
       A + P, B);
    perms("mmap_fixed_replaces_perms", A + P);
    clean();
    map(A, 1, RW);
    rp("mmap_noreplace_over", mmap((void *)A, P, RW, PRIV | MAP_FIXED_NOREPLACE, -1, 0), A, B);
    rp("mmap_noreplace_partial", mmap((void *)(A - P), 2 * P, RW, PRIV | MAP_FIXED_NOREPLACE, -1, 0), A, B);
    rp("mmap_noreplace_free", mmap((void *)(A + P), P, RW, PRIV | MAP_FIXED_NOREPLACE, -1, 0), A + P, B);
    rp("mmap_noreplace_unaligned", mmap((void *)(A + 1), P, RW, PRIV | MAP_FIXED_NOREPLACE, -1, 0), A, B);
    rp("mmap_noreplace_past_task_size",
       mmap((void *)(TASK_SIZE - P), 2 * P, RW, PRIV | MAP_FIXED_NOREPLACE, -1, 0), A, B);
    rp("mmap_noreplace_over_rdonly_file_write", mmap((void *)A, P, RW, MAP_SHARED | MAP_FIXED_NOREPLACE, rofd, 0),
       A, B);
    perms("mmap_noreplace_over_perms", A);
    clean();

    /* ---- munmap: do_vmi_munmap ---- */
    rc("munmap_unaligned", munmap((void *)(A + 1), P));
    rc("munmap_len0", munmap((void *)A, 0));
    rc("munmap_hole", munmap((void *)A, P));
    rc("munmap_past_task_size", munmap((void *)(TASK_SIZE - P), 2 * P - 1));
    rc("munmap_at_task_size", munmap((void *)TASK_SIZE, P));
    rc("munmap_len_huge", munmap((void *)A, -P));
    map(A, 2, RW);
    rc("munmap_partial", munmap((void *)(A + P), 4 * P));
    rec("munmap_partial_first", mapped(A));
    rec("munmap_partial_second", mapped(A + P));
    clean();

    /* ---- mprotect: do_mprotect_pkey ---- */
    map(A, 2, RW);
    rc("mprotect_unaligned", mprotect((void *)(A + 1), P, PROT_READ));
    rc("mprotect_len0_unmapped", mprotect((void *)B, 0, PROT_READ));
    rc("mprotect_unmapped", mprotect((void *)B, P, PROT_READ));
    rc("mprotect_len_unaligned", mprotect((void *)A, P + 1, PROT_READ));
    perms("mprotect_len_unaligned_second", A + P);
    map(A + 3 * P, 1, RW);
    rc("mprotect_hole", mprotect((void *)A, 4 * P, PROT_NONE));
    perms("mprotect_hole_first", A);
    perms("mprotect_hole_after", A + 3 * P);
    rc("mprotect_hole_start", mprotect((void *)(A + 2 * P), 2 * P, PROT_READ));
    perms("mprotect_hole_start_after", A + 3 * P);
    rc("mprotect_past_task_size", mprotect((void *)(A + 3 * P), TASK_SIZE, PROT_READ | PROT_EXEC));
    perms("mprotect_past_task_size_after", A + 3 * P);
    rc("mprotect_wrap", mprotect((void *)A, -P, PROT_READ));
    clean();
    mmap((void *)A, P, PROT_READ, MAP_SHARED | MAP_FIXED, rofd, 0);
    rc("mprotect_shared_rdonly_file_write", mprotect((void *)A, P, RW));
    rc("mprotect_shared_rdonly_file_exec", mprotect((void *)A, P, PROT_READ | PROT_EXEC));
    mmap((void *)B, P, PROT_READ, MAP_PRIVATE | MAP_FIXED, rofd, 0);
    rc("mprotect_private_rdonly_file_write", mprotect((void *)B, P, RW));
    clean();

    /* ---- mremap: SYSCALL_DEFINE5(mremap), mremap_to, vma_to_resize ---- */
    map(A, 2, RW);
    rp("mremap_unaligned", xmremap(A + 1, P, 2 * P, MREMAP_MAYMOVE, 0), A, B);
    rp("mremap_newlen0", xmremap(A, P, 0, MREMAP_MAYMOVE, 0), A, B);
    rp("mremap_fixed_without_maymove", xmremap(A, P, P, MREMAP_FIXED, B), A, B);
    rp("mremap_unmapped", xmremap(B, P, 2 * P, MREMAP_MAYMOVE, 0), A, B);
    rp("mremap_old0_private", xmremap(A, 0, P, MREMAP_MAYMOVE, 0), A, B);
    rp("mremap_fixed_unaligned_to", xmremap(A, P, P, MREMAP_MAYMOVE | MREMAP_FIXED, B + 1), A, B);
    rp("mremap_fixed_overlap", xmremap(A, 2 * P, 2 * P, MREMAP_MAYMOVE | MREMAP_FIXED, A + P), A, B);
    rp("mremap_fixed_overlap_unmapped", xmremap(B, 2 * P, 2 * P, MREMAP_MAYMOVE | MREMAP_FIXED, B + P), A, B);
    rp("mremap_fixed_to_past_task_size",
       xmremap(A, P, 2 * P, MREMAP_MAYMOVE | MREMAP_FIXED, TASK_SIZE - P), A, B);
    rp("mremap_old_huge", xmremap(A, 1UL << 47, (1UL << 47) + P, MREMAP_MAYMOVE, 0), A, B);
    rp("mremap_grow_in_place", xmremap(A, 2 * P, 4 * P, 0, 0), A, B);
    rp("mremap_shrink", xmremap(A, 4 * P, 2 * P, 0, 0), A, B);
    rec("mremap_shrink_after", mapped(A + 2 * P));
    map(A + 2 * P, 1, PROT_READ);
    rp("mremap_grow_into_neighbour", xmremap(A, 2 * P, 3 * P, 0, 0), A, B);
    rp("mremap_cross_grow", xmremap(A, 3 * P, 4 * P, MREMAP_MAYMOVE, 0), A, B);
    rp("mremap_cross_same", xmremap(A, 3 * P, 3 * P, 0, 0), A, B);
    rp("mremap_cross_shrink", xmremap(A, 3 * P, P, 0, 0), A, B);
    rec("mremap_cross_shrink_after", mapped(A + 2 * P));
    clean();
    map(A, 1, RW);
    map(A + P, 1, PROT_READ);
    map(B, 1, RW);
    rp("mremap_fixed_cross_grow", xmremap(A, 2 * P, 3 * P, MREMAP_MAYMOVE | MREMAP_FIXED, B), A, B);
    rec("mremap_fixed_cross_grow_target", mapped(B));
    rp("mremap_fixed_cross_shrink", xmremap(A, 2 * P, P, MREMAP_MAYMOVE | MREMAP_FIXED, B), A, B);
    rec("mremap_fixed_cross_shrink_old", mapped(A + P));
    clean();
    map(A, 2, RW);
    map(A + 2 * P, 1, PROT_READ);
    rp("mremap_grow_maymove", xmremap(A, 2 * P, 3 * P, MREMAP_MAYMOVE, 0), A, B);
    clean();
    mmap((void *)A, 2 * P, RW, MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    rp("mremap_old0_shared", xmremap(A, 0, P, MREMAP_MAYMOVE, 0), A, B);
    clean();

    /* ---- madvise: do_madvise, madvise_walk_vmas, madvise_vma_behavior ---- */
    map(A, 1, RW);
    map(A + 2 * P, 1, RW);
    memset((void *)A, 1, P);
    memset((void *)(A + 2 * P), 1, P);
    madv("madvise_unknown", A, P, 12345);
    madv("madvise_unknown_past_task_size", 1UL << 47, P, 12345);
    madv("madvise_unknown_unaligned", A + 1, P, 12345);
    madv("madvise_unaligned", A + 1, P, MADV_DONTNEED);
    madv("madvise_len0", B, 0, MADV_DONTNEED);
    madv("madvise_len_wrap", A, -1UL, MADV_DONTNEED);
    madv("madvise_unmapped", B, P, MADV_DONTNEED);
    madv("madvise_hole", A, 3 * P, MADV_DONTNEED);
    resident("madvise_hole_last", A + 2 * P);
    madv("madvise_willneed_hole", A, 3 * P, MADV_WILLNEED);
    madv("madvise_hugepage", A, P, MADV_HUGEPAGE);
    madv("madvise_nohugepage", A, P, MADV_NOHUGEPAGE);
    madv("madvise_cold", A, P, MADV_COLD);
    madv("madvise_pageout", A, P, MADV_PAGEOUT);
    madv("madvise_remove_private", A, P, MADV_REMOVE);
    madv("madvise_remove_unaligned", A + 1, P, MADV_REMOVE);
    madv("madvise_remove_unmapped", B, P, MADV_REMOVE);
    madv("madvise_wipeonfork", A, P, MADV_WIPEONFORK);
    madv("madvise_populate_read_hole", A, 3 * P, MADV_POPULATE_READ);
    madv("madvise_populate_write_hole", A, 3 * P, MADV_POPULATE_WRITE);
    mlock((void *)A, P);
    madv("madvise_dontneed_locked", A, P, MADV_DONTNEED);
    madv("madvise_free_locked", A, P, MADV_FREE);
    madv("madvise_cold_locked", A, P, MADV_COLD);
    madv("madvise_pageout_locked", A, P, MADV_PAGEOUT);
    madv("madvise_dontneed_locked_hole", A, 3 * P, MADV_DONTNEED);
    resident("madvise_dontneed_locked_hole_last", A + 2 * P);
    clean();
    map(A, 1, PROT_READ);
    map(A + P, 1, PROT_NONE);
    madv("madvise_populate_write_readonly", A, P, MADV_POPULATE_WRITE);
    madv("madvise_populate_read_none", A + P, P, MADV_POPULATE_READ);
    clean();
    mmap((void *)A, P, RW, MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    mmap((void *)B, P, RW, MAP_PRIVATE | MAP_FIXED, rwfd, 0);
    madv("madvise_free_shared", A, P, MADV_FREE);
    madv("madvise_free_file", B, P, MADV_FREE);
    madv("madvise_wipeonfork_shared", A, P, MADV_WIPEONFORK);
    madv("madvise_wipeonfork_file", B, P, MADV_WIPEONFORK);
    madv("madvise_hugepage_file", B, P, MADV_HUGEPAGE);
    madv("madvise_remove_private_file", B, P, MADV_REMOVE);
    madv("madvise_remove_shared", A, P, MADV_REMOVE);
    clean();

    /* ---- msync: SYSCALL_DEFINE3(msync) ---- */
    mmap((void *)A, P, RW, MAP_SHARED | MAP_FIXED, rwfd, 0);
    mmap((void *)(A + 2 * P), P, RW, MAP_SHARED | MAP_FIXED, rwfd, 0);
    rc("msync_unaligned", msync((void *)(A + 1), P, MS_SYNC));
    rc("msync_len0", msync((void *)B, 0, MS_SYNC));
    rc("msync_unmapped", msync((void *)B, P, MS_SYNC));
    rc("msync_hole", msync((void *)A, 3 * P, MS_SYNC));
    rc("msync_hole_end", msync((void *)(A + 2 * P), 2 * P, MS_SYNC));
    rc("msync_hole_start", msync((void *)(A + P), 2 * P, MS_SYNC));
    rc("msync_hole_before_next", msync((void *)(A - 2 * P), P, MS_SYNC));
    rc("msync_past_task_size", msync((void *)A, 1UL << 47, MS_SYNC));
    rc("msync_wrap", msync((void *)A, -P, MS_SYNC));
    rc("msync_len_unaligned", msync((void *)A, 1, MS_SYNC));
    rc("msync_flags_unknown", msync((void *)A, P, 8));
    rc("msync_async_and_sync", msync((void *)A, P, MS_ASYNC | MS_SYNC));
    rc("msync_flags_unknown_unaligned", msync((void *)(A + 1), P, 8));
    rc("msync_async", msync((void *)A, P, MS_ASYNC));
    rc("msync_async_hole", msync((void *)A, 3 * P, MS_ASYNC));
    rc("msync_async_invalidate_hole", msync((void *)A, 3 * P, MS_ASYNC | MS_INVALIDATE));
    rc("msync_flags0_hole", msync((void *)A, 3 * P, 0));
    rc("msync_invalidate", msync((void *)A, P, MS_INVALIDATE));
    mlock((void *)(A + 2 * P), P);
    rc("msync_invalidate_locked", msync((void *)(A + 2 * P), P, MS_INVALIDATE));
    rc("msync_sync_invalidate_locked_after_hole", msync((void *)A, 3 * P, MS_SYNC | MS_INVALIDATE));
    rc("msync_sync_locked", msync((void *)(A + 2 * P), P, MS_SYNC));
    clean();

    /* ---- mlock, munlock: do_mlock, apply_vma_lock_flags ---- */
    map(A, 1, RW);
    map(A + 2 * P, 1, RW);
    rc("mlock_unaligned", mlock((void *)(A + 1), P - 1));
    vmlck("mlock_unaligned_vmlck");
    munlock((void *)A, P);
    rc("mlock_len0", mlock((void *)B, 0));
    rc("mlock_unmapped", mlock((void *)B, P));
    rc("mlock_hole", mlock((void *)A, 3 * P));
    vmlck("mlock_hole_vmlck");
    rc("munlock_hole", munlock((void *)A, 3 * P));
    vmlck("munlock_hole_vmlck");
    rc("mlock_past_task_size", mlock((void *)(A + 2 * P), TASK_SIZE));
    vmlck("mlock_past_task_size_vmlck");
    munlock((void *)A, 3 * P);
    rc("mlock_wrap", mlock((void *)A, -P));
    rc("munlock_unmapped", munlock((void *)B, P));
    clean();
    map(A, 1, PROT_NONE);
    rc("mlock_prot_none", mlock((void *)A, P));
    vmlck("mlock_prot_none_vmlck");
    clean();

    /* ---- mincore: SYSCALL_DEFINE3(mincore) ---- */
    map(A, 1, RW);
    {
        unsigned char v[4];
        rc("mincore_unaligned", mincore((void *)(A + 1), P, v));
        rc("mincore_len0", mincore((void *)B, 0, v));
        rc("mincore_unmapped", mincore((void *)B, P, v));
        rc("mincore_hole", mincore((void *)A, 2 * P, v));
        rc("mincore_past_task_size", mincore((void *)(TASK_SIZE - P), 2 * P, v));
        rc("mincore_len_unaligned", mincore((void *)A, 1, v));
    }
    clean();

    /* ---- which check comes first; partial work before a refusal or a hole ---- */
    map(A, 1, RW);
    madv("order_madvise_unknown_len0", A, 0, 12345);
    madv("order_madvise_unaligned_len0", A + 1, 0, MADV_DONTNEED);
    rc("order_mprotect_unaligned_len0", mprotect((void *)(A + 1), 0, PROT_READ));
    rc("order_msync_unaligned_len0", msync((void *)(A + 1), 0, MS_SYNC));
    rc("order_mlock_unaligned_len0", mlock((void *)(A + 1), 0));
    vmlck("order_mlock_unaligned_len0_vmlck");
    munlock((void *)A, P);
    rp("order_mremap_newlen_wraps", xmremap(A, P, -1UL, MREMAP_MAYMOVE, 0), A, B);
    clean();
    map(A, 1, RW);
    map(A + 2 * P, 1, RW);
    madv("order_madvise_random_hole", A, 3 * P, MADV_RANDOM);
    madv("order_madvise_dontfork_hole", A, 3 * P, MADV_DONTFORK);
    madv("order_madvise_keeponfork_hole", A, 3 * P, MADV_KEEPONFORK);
    rc("order_munlock_past_task_size", munlock((void *)A, TASK_SIZE));
    clean();
    map(A, 1, RW);
    mmap((void *)(A + P), P, PROT_READ, MAP_SHARED | MAP_FIXED, rofd, 0);
    rc("order_mprotect_eacces_second", mprotect((void *)A, 2 * P, PROT_READ | PROT_WRITE | PROT_EXEC));
    perms("order_mprotect_eacces_second_first", A);
    perms("order_mprotect_eacces_second_second", A + P);
    madv("order_madvise_free_second_file", A, 2 * P, MADV_FREE);
    madv("order_madvise_wipeonfork_second_file", A, 2 * P, MADV_WIPEONFORK);
    madv("order_madvise_keeponfork_file", A + P, P, MADV_KEEPONFORK);
    madv("order_madvise_cold_file", A + P, P, MADV_COLD);
    rc("order_msync_private_anon", msync((void *)A, P, MS_SYNC));
    clean();
    map(A, 1, PROT_NONE);
    madv("order_madvise_dontneed_prot_none", A, P, MADV_DONTNEED);
    rc("order_mincore_prot_none", mincore((void *)A, P, (unsigned char[1]){0}));
    rc("order_msync_prot_none", msync((void *)A, P, MS_SYNC));
    rc("order_mprotect_prot_none_rw", mprotect((void *)A, P, RW));
    clean();

    /* ---- brk: SYSCALL_DEFINE1(brk), a page kept free below the next mapping ---- */
    {
        unsigned long cur = syscall(SYS_brk, 0), top = (cur + P - 1) & ~(P - 1);
        map(top + 8 * P, 1, RW);
        brk_to("brk_one_page_below_next", top + 7 * P);
        brk_to("brk_touching_next", top + 7 * P + 1);
        brk_to("brk_into_next", top + 9 * P);
        brk_to("brk_shrink", cur);
        brk_to("brk_unaligned", cur + 1);
        brk_to("brk_back", cur);
        munmap((void *)(top + 8 * P), P);
        brk_to("brk_past_task_size", TASK_SIZE + P);
        /* start_brk: /proc/self/stat's field 47 (the 45th after the command's ')') */
        probe_readfile(buf, sizeof buf, "/proc/self/stat");
        char *f = strrchr(buf, ')') + 2;
        for (int i = 0; i < 44 && f; i++) f = strchr(f, ' ') ? strchr(f, ' ') + 1 : NULL;
        unsigned long start_brk = f ? strtoul(f, NULL, 10) : 0;
        brk_to("brk_below_start", start_brk - P);
        brk_to("brk_restore", cur);
    }

    /* ---- do_mmap's order for uid 1000 with RLIMIT_MEMLOCK 0, in a child: MAP_LOCKED's -EPERM first ---- */
    if (fork() == 0) {
        struct rlimit r = {0, 0};
        if (setrlimit(RLIMIT_MEMLOCK, &r) != 0 || setuid(1000) != 0) {
            rec("skip", "setuid(1000) or RLIMIT_MEMLOCK refused");
            _exit(0);
        }
        rp("user_mmap_locked_rdonly_file_write", mmap(NULL, P, RW, MAP_SHARED | MAP_LOCKED, rofd, 0), A, B);
        rp("user_mmap_rdonly_file_write", mmap(NULL, P, RW, MAP_SHARED, rofd, 0), A, B);
        rp("user_mmap_locked", mmap(NULL, P, RW, PRIV | MAP_LOCKED, -1, 0), A, B);
        rc("user_mlock", mlock((void *)A, P));
        _exit(0);
    }
    int st;
    wait(&st);
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : 1;
}
