/*
 * mlockall and munlockall on this machine's Linux (mm/mlock.c sys_mlockall,
 * apply_mlockall_flags, sys_munlockall), for test/differential/mlockall.test.ts.
 * Run as root. Each group runs in a forked child of its own (the locks, def_flags and
 * limits stay there); the groups as uid 1000 drop every capability (CAP_IPC_LOCK) with
 * setresuid. Each record is one JSON line: {"exp": NAME, "v": VALUE}, VALUE a result ("0"
 * or the errno's name), a page count (mincore) or a flag test of a mapping's smaps entry.
 * Only what does not depend on the probe's own mappings (libc, vdso) is recorded:
 * whole-address-space figures are "every VMA that is not VM_SPECIAL or HugeTLB is locked".
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "probe.h"

#define PG 4096L
static char buf[1 << 20];

static void rec(const char *exp, const char *v) { printf("{\"exp\":\"%s\",\"v\":\"%s\"}\n", exp, v); }
static void recn(const char *exp, long v) { printf("{\"exp\":\"%s\",\"v\":\"%ld\"}\n", exp, v); }

/* "0" or the errno's name of a call that returned r (-1 and errno on failure) */
static const char *res(long r) {
    if (r != -1) return "0";
    switch (errno) {
    case EPERM: return "EPERM";
    case EAGAIN: return "EAGAIN";
    case ENOMEM: return "ENOMEM";
    case EINVAL: return "EINVAL";
    default: return "other";
    }
}

static char *anon(long n, int prot, int flags) {
    return mmap(0, n * PG, prot, MAP_PRIVATE | MAP_ANONYMOUS | flags, -1, 0);
}
static const char *mres(char *p) { return p == MAP_FAILED ? res(-1) : "0"; }

/* a field of /proc/self/status in kB ("\nVmLck:") */
static long status_kb(const char *field) {
    probe_readfile(buf, sizeof buf, "/proc/self/status");
    char *p = strstr(buf, field);
    return p ? strtol(p + strlen(field), NULL, 10) : -1;
}

/*
 * Walks /proc/self/smaps: for each VMA its start, end, name (the header's last word) and its
 * VmFlags line; `fn` returns nonzero to stop. (A header's first word has no colon; a field's ends in one.)
 */
static void each_vma(int (*fn)(unsigned long, unsigned long, const char *, const char *, void *), void *arg) {
    probe_readfile(buf, sizeof buf, "/proc/self/smaps");
    unsigned long s = 0, e = 0;
    char name[64] = "";
    for (char *l = buf + 1; *l;) {
        char *nl = strchr(l, '\n');
        if (nl) *nl = 0;
        char *sp = strchr(l, ' ');
        if (sp && sp[-1] != ':' && sscanf(l, "%lx-%lx", &s, &e) == 2) {
            char *last = strrchr(l, ' ');
            snprintf(name, sizeof name, "%s", last && last[1] ? last + 1 : "");
        } else if (!strncmp(l, "VmFlags:", 8) && fn(s, e, name, l + 8, arg))
            return;
        if (!nl) break;
        l = nl + 1;
    }
}

struct flag_q { unsigned long addr; const char *flag; int found; };
static int flag_fn(unsigned long s, unsigned long e, const char *name, const char *flags, void *arg) {
    struct flag_q *q = arg;
    (void)name;
    if (q->addr < s || q->addr >= e) return 0;
    char want[8];
    snprintf(want, sizeof want, " %s", q->flag);
    q->found = strstr(flags, want) != NULL;
    return 1;
}
/* does the VmFlags line of the VMA that holds addr name `flag`? -1: no VMA holds it */
static int has_flag(void *addr, const char *flag) {
    struct flag_q q = {(unsigned long)addr, flag, -1};
    each_vma(flag_fn, &q);
    return q.found;
}

static int unlocked_fn(unsigned long s, unsigned long e, const char *name, const char *f, void *arg) {
    (void)s, (void)e;
    if (!strstr(f, " lo") && !strstr(f, " io") && !strstr(f, " pf") && !strstr(f, " de") && !strstr(f, " ht") &&
        strcmp(name, "[vsyscall]"))
        ++*(long *)arg;
    return 0;
}
/* VMAs not locked ("lo") that mlock_fixup does not skip (VM_SPECIAL: io, pf, de; HugeTLB: ht; the gate VMA) */
static long unlocked_normal(void) {
    long n = 0;
    each_vma(unlocked_fn, &n);
    return n;
}

static void as_user(void) {
    if (setresuid(1000, 1000, 1000)) { perror("setresuid"); _exit(1); }
}
static int memlock(rlim_t bytes) {
    struct rlimit r;
    getrlimit(RLIMIT_MEMLOCK, &r);
    r.rlim_cur = bytes;
    if (r.rlim_max < bytes) return -1;
    return setrlimit(RLIMIT_MEMLOCK, &r);
}

static void einval(void) {
    rec("einval_none", res(mlockall(0)));
    rec("einval_onfault_alone", res(mlockall(MCL_ONFAULT)));
    rec("einval_unknown_bit", res(mlockall(MCL_CURRENT | 8)));
    recn("einval_vmlck_kb", status_kb("\nVmLck:"));
}

static void eperm(void) {
    struct rlimit z = {0, 0};
    setrlimit(RLIMIT_MEMLOCK, &z);
    as_user();
    rec("eperm_future", res(mlockall(MCL_FUTURE)));
    rec("eperm_current", res(mlockall(MCL_CURRENT)));
}

/* MCL_CURRENT against RLIMIT_MEMLOCK: total_vm, pages already locked included */
static void limit(void) {
    as_user();
    char *a = anon(8, PROT_READ | PROT_WRITE, 0);
    rec("limit_mlock4", res(mlock(a, 4 * PG)));
    long size = status_kb("\nVmSize:");
    if (memlock(size * 1024 - PG)) { rec("limit_skip", "hard limit below VmSize"); return; }
    rec("limit_current_short", res(mlockall(MCL_CURRENT | MCL_FUTURE)));
    recn("limit_vmlck_kb", status_kb("\nVmLck:"));
    rec("limit_future_alone", res(mlockall(MCL_FUTURE)));
    size = status_kb("\nVmSize:");
    memlock(size * 1024);
    rec("limit_current_fits", res(mlockall(MCL_CURRENT)));
    recn("limit_unlocked_normal", unlocked_normal());
    char *b = anon(4, PROT_READ | PROT_WRITE, 0); /* MCL_CURRENT alone cleared def_flags */
    rec("limit_after_current_mmap", mres(b));
    recn("limit_after_current_locked", has_flag(b, "lo"));
}

/* MCL_FUTURE against RLIMIT_MEMLOCK: mlock_future_ok for mmap (EAGAIN) and brk (sbrk: ENOMEM) */
static void future_limit(void) {
    as_user();
    memlock(8 * PG);
    rec("flimit_future", res(mlockall(MCL_FUTURE)));
    rec("flimit_mmap6", mres(anon(6, PROT_READ | PROT_WRITE, 0)));
    rec("flimit_mmap3", mres(anon(3, PROT_READ | PROT_WRITE, 0)));
    char *old = sbrk(0);
    char *end = (char *)(((unsigned long)old + PG - 1) & ~(PG - 1));
    rec("flimit_brk3", sbrk(end - old + 3 * PG) == (void *)-1 ? res(-1) : "0");
    rec("flimit_brk2", sbrk(end - old + 2 * PG) == (void *)-1 ? res(-1) : "0");
    recn("flimit_vmlck_kb", status_kb("\nVmLck:"));
}

static void current(void) {
    char *a = anon(16, PROT_READ | PROT_WRITE, 0);
    char *n = anon(4, PROT_NONE, 0);
    rec("current", res(mlockall(MCL_CURRENT)));
    recn("current_resident", probe_incore(a, 16));
    recn("current_none_resident", probe_incore(n, 4));
    recn("current_none_locked", has_flag(n, "lo"));
    recn("current_unlocked_normal", unlocked_normal());
    char *b = anon(8, PROT_READ | PROT_WRITE, 0);
    recn("current_later_locked", has_flag(b, "lo"));
    recn("current_later_resident", probe_incore(b, 8));
    rec("current_munlockall", res(munlockall()));
    recn("current_munlockall_vmlck_kb", status_kb("\nVmLck:"));
    recn("current_munlockall_locked", has_flag(a, "lo"));
}

static void onfault(void) {
    char *a = anon(8, PROT_READ | PROT_WRITE, 0);
    rec("onfault", res(mlockall(MCL_CURRENT | MCL_ONFAULT)));
    recn("onfault_resident", probe_incore(a, 8));
    recn("onfault_lo", has_flag(a, "lo"));
    recn("onfault_lf", has_flag(a, "lf"));
    a[3 * PG] = 1;
    recn("onfault_touched_resident", probe_incore(a, 8));
}

static void future(void) {
    char *old = anon(4, PROT_READ | PROT_WRITE, 0);
    rec("future", res(mlockall(MCL_FUTURE)));
    recn("future_old_locked", has_flag(old, "lo"));
    long lck0 = status_kb("\nVmLck:");
    char *c = anon(8, PROT_READ | PROT_WRITE, 0);
    recn("future_mmap_locked", has_flag(c, "lo"));
    recn("future_mmap_resident", probe_incore(c, 8));
    recn("future_mmap_vmlck_kb", status_kb("\nVmLck:") - lck0);
    char *brk0 = sbrk(0);
    char *h = (char *)(((unsigned long)brk0 + PG - 1) & ~(PG - 1));
    rec("future_brk", sbrk(h - brk0 + 4 * PG) == (void *)-1 ? res(-1) : "0");
    recn("future_brk_resident", probe_incore(h, 4));
    rec("future_onfault", res(mlockall(MCL_FUTURE | MCL_ONFAULT)));
    char *d = anon(8, PROT_READ | PROT_WRITE, MAP_POPULATE);
    recn("future_onfault_populate_resident", probe_incore(d, 8));
    recn("future_onfault_lf", has_flag(d, "lf"));
    char *e = anon(8, PROT_READ | PROT_WRITE, MAP_LOCKED);
    recn("future_onfault_maplocked_resident", probe_incore(e, 8));
    rec("future_current", res(mlockall(MCL_CURRENT | MCL_FUTURE)));
    fflush(stdout);
    pid_t p = fork();
    if (p == 0) {
        recn("future_child_vmlck_kb", status_kb("\nVmLck:"));
        char *f = anon(8, PROT_READ | PROT_WRITE, 0);
        recn("future_child_mmap_locked", has_flag(f, "lo"));
        recn("future_child_mmap_resident", probe_incore(f, 8));
        fflush(stdout);
        _exit(0);
    }
    waitpid(p, NULL, 0);
    char *g = anon(8, PROT_READ | PROT_WRITE, 0);
    recn("future_parent_mmap_resident", probe_incore(g, 8));
    rec("future_munlockall", res(munlockall()));
    recn("future_munlockall_vmlck_kb", status_kb("\nVmLck:"));
    char *i = anon(8, PROT_READ | PROT_WRITE, 0);
    recn("future_munlockall_mmap_locked", has_flag(i, "lo"));
    recn("future_munlockall_mmap_resident", probe_incore(i, 8));
}

int main(void) {
    if (geteuid() != 0) { rec("skip", "not root"); return 0; }
    setvbuf(stdout, NULL, _IONBF, 0); /* no buffer to malloc, nothing duplicated by fork */
    void (*groups[])(void) = {einval, eperm, limit, future_limit, current, onfault, future};
    for (unsigned i = 0; i < sizeof groups / sizeof *groups; i++) {
        pid_t p = fork();
        if (p == 0) { groups[i](); _exit(0); }
        int st;
        waitpid(p, &st, 0);
    }
    return 0;
}
