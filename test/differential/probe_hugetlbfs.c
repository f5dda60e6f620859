/*
 * Differential probe for hugetlbfs files other than MAP_HUGETLB's, run as
 * root: SysV segments with SHM_HUGETLB (ipc/shm.c newseg ->
 * fs/hugetlbfs/inode.c hugetlb_file_setup) and memfd_create(MFD_HUGETLB).
 * Sets /proc/sys/vm/nr_hugepages to 4 (nr_overcommit_hugepages to 0) and
 * prints /proc/meminfo's HugePages_Total, _Free, _Rsvd and _Surp as a JSON
 * line after each step: shmget of 3M (rounded up to two huge pages,
 * reserved), shmat and a touch, a child's touch of the second page and its
 * exit, the parent's read of it; the segment's smaps fields; SHM_INFO's
 * shm_tot and shm_rss and IPC_STAT's nattch and mode after SHM_LOCK; a
 * segment the pool cannot cover (ENOMEM); a SHM_NORESERVE one touched until
 * SIGBUS; IPC_RMID while attached, the detach. Then a memfd with
 * MFD_HUGETLB: ftruncate to 1M (EINVAL) and to 4M, a shared mmap and its
 * touch, a private mmap and its write, pread(2) of a byte and write(2), its
 * smaps, the munmaps and close; MFD_ALLOW_SEALING with F_SEAL_GROW. The old
 * nr_hugepages and nr_overcommit_hugepages are written back before it exits
 * (the test writes them back too). Prints {"exp":"skip",...} when the pool
 * cannot be set.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/wait.h>
#include <unistd.h>

#include "probe_hugetlb.h"

static long shm_nattch(int id, long *mode) {
    struct shmid_ds ds;
    if (shmctl(id, IPC_STAT, &ds) != 0) return -errno;
    *mode = ds.shm_perm.mode;
    return (long)ds.shm_nattch;
}

int main(void) {
    if (set_pool(4) != 0) return 0;
    report("set", 4);

    int id = shmget(IPC_PRIVATE, 3L << 20, IPC_CREAT | SHM_HUGETLB | 0600);
    report("shmget", id < 0 ? -errno : 0);
    if (id < 0) return 0;
    char *a = shmat(id, NULL, 0);
    if (a == (void *)-1) {
        report("shmat-failed", -errno);
        shmctl(id, IPC_RMID, NULL);
        return 0;
    }
    report("shmat", ((unsigned long)a % HPAGE) == 0);
    a[5] = 0x11;
    report("shm-touch", a[5]);
    pid_t c = fork();
    if (c == 0) {
        a[HPAGE] = 0x22;
        report("shm-child-touch", a[5]);
        _exit(0);
    }
    waitpid(c, NULL, 0);
    report("shm-child-exit", 0);
    report("shm-parent-read", a[HPAGE]);
    smaps("smaps-shm", a);
    struct shm_info info;
    int maxid = shmctl(0, SHM_INFO, (struct shmid_ds *)&info);
    report("shm-info-tot", maxid < 0 ? -errno : (long)info.shm_tot);
    report("shm-info-rss", maxid < 0 ? -errno : (long)info.shm_rss);
    long mode = 0;
    report("shm-lock", shmctl(id, SHM_LOCK, NULL) ? -errno : 0);
    report("shm-nattch", shm_nattch(id, &mode));
    report("shm-locked-mode", mode & 0777777);

    int big = shmget(IPC_PRIVATE, 8L << 20, IPC_CREAT | SHM_HUGETLB | 0600);
    report("shm-enomem", big < 0 ? -errno : 0);
    if (big >= 0) shmctl(big, IPC_RMID, NULL);

    signal(SIGBUS, on_bus);
    int nr = shmget(IPC_PRIVATE, 8L << 20, IPC_CREAT | SHM_HUGETLB | SHM_NORESERVE | 0600);
    report("shm-noreserve", nr < 0 ? -errno : 0);
    if (nr >= 0) {
        char *n = shmat(nr, NULL, 0);
        int bus = 0;
        long i = 0;
        for (; i < 4 && !bus; i++) bus = touch_bus(n, i * HPAGE);
        report("shm-noreserve-touch", bus ? i : 0);
        shmdt(n);
        shmctl(nr, IPC_RMID, NULL);
        report("shm-noreserve-rmid", 0);
    }
    report("shm-rmid", shmctl(id, IPC_RMID, NULL) ? -errno : 0);
    report("shm-rmid-nattch", shm_nattch(id, &mode));
    report("shmdt", shmdt(a) ? -errno : 0);

    int m = memfd_create("h", MFD_HUGETLB);
    report("memfd", m < 0 ? -errno : 0);
    if (m < 0) return 0;
    report("memfd-ftruncate-1M", ftruncate(m, 1L << 20) ? -errno : 0);
    report("memfd-ftruncate", ftruncate(m, 2 * HPAGE) ? -errno : 0);
    char *s = mmap(NULL, 2 * HPAGE, PROT_READ | PROT_WRITE, MAP_SHARED, m, 0);
    report("memfd-mmap-shared", s == MAP_FAILED ? -errno : 0);
    if (s == MAP_FAILED) return 0;
    s[7] = 0x33;
    report("memfd-shared-touch", s[7]);
    char *p = mmap(NULL, 2 * HPAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, m, 0);
    report("memfd-mmap-private", p == MAP_FAILED ? -errno : 0);
    if (p == MAP_FAILED) return 0;
    report("memfd-private-read", p[7]);
    p[HPAGE] = 0x44;
    report("memfd-private-write", p[HPAGE]);
    char b = 0;
    long r = pread(m, &b, 1, 7);
    report("memfd-pread", r < 0 ? -errno : r * 1000 + b);
    r = pwrite(m, &b, 1, 0);
    report("memfd-pwrite", r < 0 ? -errno : r);
    smaps("smaps-memfd-shared", s);
    smaps("smaps-memfd-private", p);
    munmap(p, 2 * HPAGE);
    report("memfd-munmap-private", 0);
    munmap(s, 2 * HPAGE);
    report("memfd-munmap-shared", 0);
    close(m);
    report("memfd-close", 0);

    int q = memfd_create("q", MFD_HUGETLB | MFD_ALLOW_SEALING);
    report("memfd-sealing", q < 0 ? -errno : 0);
    if (q < 0) return 0;
    report("memfd-add-seals", fcntl(q, F_ADD_SEALS, F_SEAL_GROW) ? -errno : 0);
    report("memfd-get-seals", fcntl(q, F_GET_SEALS));
    report("memfd-sealed-grow", ftruncate(q, HPAGE) ? -errno : 0);
    close(q);
    report("memfd-sealed-close", 0);
    return 0;
}
