/*
 * Differential probe for System V shared memory: in a new IPC namespace
 * (unshare(CLONE_NEWIPC), as root; otherwise it prints a skip record), the
 * shmget errors (ENOENT, EINVAL for size 0 and for a size past the
 * segment's, EEXIST), the first ids, shmat's address rules (EINVAL for a
 * misaligned address, SHM_RND rounding it), nattch after fork (in the
 * child and the parent) and after the child's shmdt, /proc/sysvipc/shm's
 * rows and `ipcs -m`'s table (a segment removed while attached, a locked
 * one), meminfo Shmem for 1 MiB touched and detached, then removed, and
 * the unevictable vmstat events of SHM_LOCK and SHM_UNLOCK of 1 MiB that
 * reclaim never met (nothing culled, so nothing rescued). JSON lines.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <sys/wait.h>
#include <unistd.h>

static long meminfo(const char *key) {
    FILE *f = fopen("/proc/meminfo", "r");
    char line[256];
    long v = -1;
    size_t n = strlen(key);
    while (fgets(line, sizeof line, f))
        if (strncmp(line, key, n) == 0 && line[n] == ':') v = atol(line + n + 1);
    fclose(f);
    return v;
}

static long vmstat(const char *key) {
    FILE *f = fopen("/proc/vmstat", "r");
    char name[128];
    long v, r = -1;
    while (fscanf(f, "%127s %ld", name, &v) == 2)
        if (strcmp(name, key) == 0) r = v;
    fclose(f);
    return r;
}

static int nattch(int id) {
    struct shmid_ds ds;
    return shmctl(id, IPC_STAT, &ds) == 0 ? (int)ds.shm_nattch : -errno;
}

/* a file's lines as one JSON string (quotes and backslashes are not expected) */
static void dump(const char *exp, const char *cmd) {
    FILE *p = popen(cmd, "r");
    char line[512];
    printf("{\"exp\":\"%s\",\"text\":\"", exp);
    while (fgets(line, sizeof line, p)) {
        line[strcspn(line, "\n")] = 0;
        printf("%s\\n", line);
    }
    pclose(p);
    printf("\"}\n");
}

#define ERR(x) ((x) < 0 ? -errno : (x))

int main(void) {
    if (unshare(CLONE_NEWIPC) != 0) {
        printf("{\"exp\":\"skip\",\"why\":\"unshare(CLONE_NEWIPC): %s\"}\n", strerror(errno));
        return 0;
    }
    int enoent = ERR(shmget(0x1234, 4096, 0600));
    int zero = ERR(shmget(IPC_PRIVATE, 0, 0600));
    int id0 = shmget(IPC_PRIVATE, 4096, 0600);
    int id1 = shmget(0x1234, 10000, IPC_CREAT | 0640);
    int again = ERR(shmget(0x1234, 4096, 0));
    int eexist = ERR(shmget(0x1234, 4096, IPC_CREAT | IPC_EXCL | 0600));
    int bigger = ERR(shmget(0x1234, 20000, 0));
    long misaligned = (long)shmat(id0, (void *)0x10000123L, 0);
    misaligned = misaligned == -1 ? -errno : misaligned;
    void *rnd = shmat(id0, (void *)0x10000123L, SHM_RND);
    printf("{\"exp\":\"errors\",\"enoent\":%d,\"zero\":%d,\"id0\":%d,\"id1\":%d,\"again\":%d,\"eexist\":%d,"
           "\"bigger\":%d,\"misaligned\":%ld,\"rnd\":%ld}\n",
           enoent, zero, id0, id1, again, eexist, bigger, misaligned, (long)rnd);
    shmdt(rnd);
    fflush(stdout);

    char *a = shmat(id1, NULL, 0);
    a[0] = 1;
    int before = nattch(id1);
    int pfd[2];
    if (pipe(pfd) != 0) return 1;
    pid_t c = fork();
    if (c == 0) {
        int in_child = nattch(id1);
        shmdt(a);
        int after_dt = nattch(id1);
        printf("{\"exp\":\"child\",\"nattch\":%d,\"after_shmdt\":%d}\n", in_child, after_dt);
        fflush(stdout);
        _exit(0);
    }
    waitpid(c, NULL, 0);
    printf("{\"exp\":\"parent\",\"before_fork\":%d,\"after_child\":%d}\n", before, nattch(id1));
    fflush(stdout);
    shmctl(id1, SHM_LOCK, NULL);
    shmctl(id1, IPC_RMID, NULL);
    dump("ipcs", "ipcs -m");
    dump("sysvipc", "cat /proc/sysvipc/shm");
    shmdt(a);
    shmctl(id0, IPC_RMID, NULL);

    /* Shmem: 1 MiB touched and detached stays; removed, it goes */
    long s0 = meminfo("Shmem");
    int id2 = shmget(IPC_PRIVATE, 1 << 20, 0600);
    char *b = shmat(id2, NULL, 0);
    memset(b, 7, 1 << 20);
    shmdt(b);
    long s1 = meminfo("Shmem");
    long u0 = meminfo("Unevictable");
    long sc0 = vmstat("unevictable_pgs_scanned"), re0 = vmstat("unevictable_pgs_rescued");
    long cu0 = vmstat("unevictable_pgs_culled");
    shmctl(id2, SHM_LOCK, NULL);
    long u1 = meminfo("Unevictable");
    long cu1 = vmstat("unevictable_pgs_culled");
    shmctl(id2, SHM_UNLOCK, NULL);
    long sc1 = vmstat("unevictable_pgs_scanned"), re1 = vmstat("unevictable_pgs_rescued");
    shmctl(id2, IPC_RMID, NULL);
    long s2 = meminfo("Shmem");
    printf("{\"exp\":\"meminfo\",\"shmem_kb\":%ld,\"shmem_after_rmid_kb\":%ld,\"unevictable_at_lock_kb\":%ld,"
           "\"culled_at_lock\":%ld,\"scanned_at_unlock\":%ld,\"rescued_at_unlock\":%ld}\n",
           s1 - s0, s2 - s0, u1 - u0, cu1 - cu0, sc1 - sc0, re1 - re0);
    return 0;
}
