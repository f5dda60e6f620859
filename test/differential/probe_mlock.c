/*
 * The unevictable LRU's events on this machine's Linux (mm/mlock.c), for
 * test/differential/mlock.test.ts: pinned to CPU 0 (one per-CPU mlock
 * batch), each step prints the change of /proc/vmstat's
 * unevictable_pgs_{mlocked,culled,munlocked,rescued}. MADV_COLD on a spare
 * page is lru_add_drain (which processes the mlock batch).
 */
#define _GNU_SOURCE
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#define PG 4096L
static const char *names[] = {"mlocked", "culled", "munlocked", "rescued"};
static long last[4];

static void read_events(long *v) {
    FILE *f = fopen("/proc/vmstat", "r");
    char line[256];
    while (fgets(line, sizeof line, f))
        for (int i = 0; i < 4; i++) {
            char key[64];
            snprintf(key, sizeof key, "unevictable_pgs_%s ", names[i]);
            if (!strncmp(line, key, strlen(key))) v[i] = atol(line + strlen(key));
        }
    fclose(f);
}

static void report(const char *exp) {
    long v[4];
    read_events(v);
    printf("{\"exp\":\"%s\"", exp);
    for (int i = 0; i < 4; i++) printf(",\"%s\":%ld", names[i], v[i] - last[i]);
    printf("}\n");
    memcpy(last, v, sizeof last);
}

static char *anon(long n, int flags) {
    char *p = mmap(0, n * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | flags, -1, 0);
    if (p == MAP_FAILED) { perror("mmap"); exit(1); }
    return p;
}

int main(void) {
    cpu_set_t s;
    CPU_ZERO(&s);
    CPU_SET(0, &s);
    sched_setaffinity(0, sizeof s, &s);
    char *spare = anon(1, 0);
    spare[0] = 1;
    char *m = anon(64, 0);
    madvise(spare, PG, MADV_COLD);
    read_events(last);
    if (syscall(SYS_mlock2, m, 64 * PG, 1 /* MLOCK_ONFAULT */)) { printf("{\"exp\":\"skip\",\"why\":\"mlock2 failed\"}\n"); return 0; }
    for (int i = 0; i < 30; i++) m[i * PG] = 1;
    report("onfault30");
    m[30 * PG] = 1;
    report("touch31");
    for (int i = 31; i < 40; i++) m[i * PG] = 1;
    report("touch40");
    madvise(spare, PG, MADV_COLD);
    report("drain");
    munlock(m, 64 * PG);
    report("munlock");
    char *l = anon(8, 0);
    for (int i = 0; i < 8; i++) l[i * PG] = 1;
    mlock(l, 8 * PG);
    report("mlock8");
    char *k = anon(12, MAP_LOCKED);
    report("maplocked12");
    munmap(l, 8 * PG);
    munmap(k, 12 * PG);
    madvise(spare, PG, MADV_COLD);
    report("munmap-drain");
    return 0;
}
