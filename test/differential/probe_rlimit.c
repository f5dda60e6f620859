/*
 * RLIMIT_AS, RLIMIT_DATA, RLIMIT_STACK and RLIMIT_MEMLOCK on this machine's
 * kernel (run as root): each group runs in a child of its own, sets a limit
 * (RLIMIT_AS and RLIMIT_DATA relative to the child's VmSize and VmData at
 * that moment, so the probe's libraries do not matter) and records the
 * result of each system call as "0" or the errno's name: mmap, MAP_FIXED
 * over an existing mapping (only the pages not replaced count), brk
 * (the raw system call: the break it returns, compared with the one asked
 * for), mremap growth, mprotect to writable (also over two VMAs, the first
 * changed and the second refused: VmData's growth in kB is a record), stack growth (in a grandchild:
 * "SIGSEGV" or "0"), mlock and MAP_LOCKED as uid 1000 and as root, and
 * setrlimit's own rules. One JSON line per record: {"exp":NAME,"r":RESULT}.
 */
#define _GNU_SOURCE
#include "probe.h"
#include <errno.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#define M (1L << 20)

static char buf[1 << 16];
static char names[64][48];
static char results[64][16];
static int n;

static void rec(const char *name, const char *r) {
    snprintf(names[n], sizeof names[n], "%s", name);
    snprintf(results[n], sizeof results[n], "%s", r);
    n++;
}

static const char *err(int e) { return probe_errname(e); }

/* a system call's result: "0" or its errno */
static void res(const char *name, long ok) { rec(name, ok ? "0" : err(errno)); }

/* a status field of /proc/self/status in bytes (VmSize, VmData) */
static long status_bytes(const char *field) {
    char key[32];
    probe_readfile(buf, sizeof buf, "/proc/self/status");
    snprintf(key, sizeof key, "\n%s:", field);
    char *p = strstr(buf, key);
    return p ? strtol(p + strlen(key), NULL, 10) * 1024 : -1;
}

static int setlim(int resource, long soft, long hard) {
    struct rlimit r = {(rlim_t)soft, (rlim_t)hard};
    return setrlimit(resource, &r) == 0 ? 0 : errno;
}

/* a private or shared anonymous mapping at a fixed address far from the rest, or MAP_FAILED */
static char *at(unsigned long addr, long size, int prot, int flags) {
    return mmap((void *)addr, size, prot, flags | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
}
#define A1 0x200000000000UL
#define A2 0x210000000000UL
#define A3 0x220000000000UL
#define A4 0x230000000000UL
#define RW (PROT_READ | PROT_WRITE)

/* the raw brk system call moving the break by `delta`: "0" when it moved, else "ENOMEM" (sys_brk returns the old break) */
static void brk_by(const char *name, long delta) {
    unsigned long cur = syscall(SYS_brk, 0);
    unsigned long got = syscall(SYS_brk, cur + delta);
    rec(name, got == cur + delta ? "0" : "ENOMEM");
}

/* the [stack] VMA's end */
static unsigned long stack_end(void) {
    FILE *f = fopen("/proc/self/maps", "r");
    char l[512];
    unsigned long s, e = 0;
    while (f && fgets(l, sizeof l, f))
        if (strstr(l, "[stack]")) sscanf(l, "%lx-%lx", &s, &e);
    if (f) fclose(f);
    return e;
}

/* a write `below` bytes under the stack VMA's end, in a child: "0", or "SIGSEGV" */
static void stack_touch(const char *name, unsigned long end, long below) {
    fflush(stdout);
    pid_t p = fork();
    if (p == 0) {
        *(volatile char *)(end - below) = 1;
        _exit(0);
    }
    int st;
    waitpid(p, &st, 0);
    rec(name, WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV ? "SIGSEGV" : WIFEXITED(st) && !WEXITSTATUS(st) ? "0" : "other");
}

static void as_group(void) {
    unsigned long send = stack_end(); /* first: its fopen may grow the heap */
    long base = status_bytes("VmSize");
    rec("as_set", err(setlim(RLIMIT_AS, base + 32 * M, RLIM_INFINITY)));
    res("as_mmap16M", at(A1, 16 * M, RW, MAP_PRIVATE) != MAP_FAILED);
    res("as_mmap32M", at(A2, 32 * M, RW, MAP_PRIVATE) != MAP_FAILED);
    /* a read-only mapping counts too, up to the limit itself */
    res("as_mmap16M_readonly", at(A2, 16 * M, PROT_READ, MAP_PRIVATE) != MAP_FAILED);
    /* MAP_FIXED: only the pages it adds count (none, then 16M) */
    res("as_fixed_replace", mmap((void *)A1, 16 * M, RW, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) != MAP_FAILED);
    res("as_fixed_more", mmap((void *)A1, 32 * M, RW, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) != MAP_FAILED);
    munmap((void *)A2, 16 * M);
    res("as_fixed_fits", mmap((void *)A1, 32 * M, RW, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) != MAP_FAILED);
    brk_by("as_brk", 4096);
    res("as_mremap", mremap((void *)A1, 32 * M, 48 * M, MREMAP_MAYMOVE) != MAP_FAILED);
    res("as_mremap_shrink", mremap((void *)A1, 32 * M, 16 * M, 0) != MAP_FAILED);
    res("as_mremap_regrow", mremap((void *)A1, 16 * M, 32 * M, MREMAP_MAYMOVE) != MAP_FAILED);
    stack_touch("as_stack", send, 256 * 1024);
    munmap((void *)A1, 32 * M);
    stack_touch("as_stack_room", send, 256 * 1024);
    setlim(RLIMIT_AS, RLIM_INFINITY, RLIM_INFINITY);
}

static void data_group(void) {
    long base = status_bytes("VmData");
    rec("data_set", err(setlim(RLIMIT_DATA, base + 8 * M, RLIM_INFINITY)));
    res("data_mmap6M", at(A1, 6 * M, RW, MAP_PRIVATE) != MAP_FAILED);
    res("data_mmap4M", at(A2, 4 * M, RW, MAP_PRIVATE) != MAP_FAILED);
    res("data_shared4M", at(A2, 4 * M, RW, MAP_SHARED) != MAP_FAILED);
    res("data_readonly4M", at(A3, 4 * M, PROT_READ, MAP_PRIVATE) != MAP_FAILED);
    res("data_mprotect_rw", mprotect((void *)A3, 4 * M, RW) == 0);
    res("data_mprotect_rw_1M", mprotect((void *)A3, 1 * M, RW) == 0);
    res("data_mremap", mremap((void *)A1, 6 * M, 8 * M, MREMAP_MAYMOVE) != MAP_FAILED);
    res("data_mremap_shared", mremap((void *)A2, 4 * M, 8 * M, MREMAP_MAYMOVE) != MAP_FAILED);
    /* check_data_rlimit passes (the heap stays small), may_expand_vm does not */
    brk_by("data_brk_vm", 4 * M);
    munmap((void *)A1, 6 * M);
    munmap((void *)A3, 4 * M);
    brk_by("data_brk_fits", 4 * M);
    /* the heap is 4M: a limit of 1M makes even a shrink fail (check_data_rlimit comes first) */
    setlim(RLIMIT_DATA, 1 * M, RLIM_INFINITY);
    brk_by("data_brk_shrink_over", -4096);
    setlim(RLIMIT_DATA, RLIM_INFINITY, RLIM_INFINITY);
    brk_by("data_brk_shrink", -4 * M);
    /* soft 0, hard unlimited: may_expand_vm's Valgrind workaround lets a data mapping through */
    setlim(RLIMIT_DATA, 0, RLIM_INFINITY);
    res("data_soft0", at(A4, 1 * M, RW, MAP_PRIVATE) != MAP_FAILED);
    setlim(RLIMIT_DATA, 0, 4 * M);
    res("data_soft0_hard4M", at(A4 + 16 * M, 8 * M, RW, MAP_PRIVATE) != MAP_FAILED);
    setlim(RLIMIT_DATA, RLIM_INFINITY, RLIM_INFINITY);
    /* mprotect over two VMAs (read-only, then read-execute): each 2M piece fits under
       VmData + 3M, both do not; mprotect_fixup accounts each VMA before checking the next,
       so the first is changed (VmData +2048 kB) and the second refused */
    res("data_split_mmap4M_readonly", at(A3, 4 * M, PROT_READ, MAP_PRIVATE) != MAP_FAILED);
    res("data_split_mprotect_rx", mprotect((void *)(A3 + 2 * M), 2 * M, PROT_READ | PROT_EXEC) == 0);
    long d0 = status_bytes("VmData");
    setlim(RLIMIT_DATA, d0 + 3 * M, RLIM_INFINITY);
    res("data_split_mprotect_rw", mprotect((void *)A3, 4 * M, RW) == 0);
    char kb[16];
    snprintf(kb, sizeof kb, "%ld", (status_bytes("VmData") - d0) / 1024);
    rec("data_split_vmdata_kB", kb);
    setlim(RLIMIT_DATA, RLIM_INFINITY, RLIM_INFINITY);
}

static void stack_group(void) {
    unsigned long send = stack_end();
    rec("stack_set", err(setlim(RLIMIT_STACK, 256 * 1024, RLIM_INFINITY)));
    stack_touch("stack_within", send, 200 * 1024);
    stack_touch("stack_past", send, 512 * 1024);
    setlim(RLIMIT_STACK, 8 * M, RLIM_INFINITY);
    stack_touch("stack_raised", send, 512 * 1024);
}

static void memlock_group(int uid) {
    char name[48];
#define R(what, ok) (snprintf(name, sizeof name, "%s_%s", uid ? "user" : "root", what), res(name, ok))
    setlim(RLIMIT_MEMLOCK, 64 * 1024, 64 * 1024);
    if (uid && setuid(uid) != 0) return;
    char *p = at(A1, 1 * M, RW, MAP_PRIVATE);
    R("mlock32K", mlock(p, 32 * 1024) == 0);
    R("mlock64K_overlap", mlock(p, 64 * 1024) == 0);
    R("mlock128K", mlock(p, 128 * 1024) == 0);
    R("map_locked8K", at(A2, 8 * 1024, RW, MAP_PRIVATE | MAP_LOCKED) != MAP_FAILED);
    munlock(p, 1 * M);
    R("map_locked64K", at(A3, 64 * 1024, RW, MAP_PRIVATE | MAP_LOCKED) != MAP_FAILED);
    R("mremap_locked", mremap((void *)A3, 64 * 1024, 128 * 1024, MREMAP_MAYMOVE) != MAP_FAILED);
    munmap((void *)A2, 8 * 1024);
    munmap((void *)A3, 128 * 1024);
    R("set_soft_above_hard", setlim(RLIMIT_MEMLOCK, 128 * 1024, 64 * 1024) == 0);
    R("set_raise_hard", setlim(RLIMIT_MEMLOCK, 1 * M, 1 * M) == 0);
    setlim(RLIMIT_MEMLOCK, 0, 0);
    R("mlock_limit0", mlock(p, 4096) == 0);
    R("map_locked_limit0", at(A4, 4096, RW, MAP_PRIVATE | MAP_LOCKED) != MAP_FAILED);
#undef R
}

static void group(void (*fn)(void)) {
    fflush(stdout);
    pid_t p = fork();
    if (p == 0) {
        n = 0;
        fn();
        for (int i = 0; i < n; i++) printf("{\"exp\":\"%s\",\"r\":\"%s\"}\n", names[i], results[i]);
        fflush(stdout);
        _exit(0);
    }
    waitpid(p, NULL, 0);
}

static void memlock_user(void) { memlock_group(1000); }
static void memlock_root(void) { memlock_group(0); }

int main(void) {
    if (geteuid() != 0) {
        printf("{\"exp\":\"skip\",\"r\":\"not root\"}\n");
        return 0;
    }
    /* the stdout buffer exists before any limit is set; root's CAP_SYS_RESOURCE (24) and
       CAP_IPC_LOCK (14) from CapEff (a container's root may lack the first) */
    probe_readfile(buf, sizeof buf, "/proc/self/status");
    char *c = strstr(buf, "\nCapEff:");
    unsigned long long eff = c ? strtoull(c + 8, NULL, 16) : 0;
    printf("{\"exp\":\"cap_sys_resource\",\"r\":\"%d\"}\n", (int)(eff >> 24 & 1));
    printf("{\"exp\":\"cap_ipc_lock\",\"r\":\"%d\"}\n", (int)(eff >> 14 & 1));
    group(as_group);
    group(data_group);
    group(stack_group);
    group(memlock_user);
    group(memlock_root);
    return 0;
}
