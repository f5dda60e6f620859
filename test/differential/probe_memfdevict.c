/*
 * Differential probe: a memfd's inode freed with its last reference
 * (fs/file_table.c fput -> fs/inode.c iput -> evict -> mm/shmem.c
 * shmem_evict_inode: shmem_truncate_range, the pages' shmem_unacct_blocks).
 * A 16 MiB memfd is filled through a shared mapping (each page faulted:
 * Shmem and Committed_AS up by 16 MiB); each step prints the change of
 * /proc/meminfo's Committed_AS and Shmem (kB) over one system call, the
 * median of REPS tries:
 *   close_mapped   close(fd) with the mapping left: nothing freed
 *   munmap_last    munmap after that close: the last reference, all freed
 *   munmap_open    munmap with the fd open: nothing freed
 *   close_last     close(fd) after that munmap: all freed
 *   exit           a child fills its own memfd and _exits holding fd and
 *                  mapping: the change over fork .. waitpid (exit_mmap's
 *                  fput and exit_files' close: all freed, nothing left)
 * memfdevict.test.ts runs the same steps on vmlab.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "probe.h"

#define M16 (16L << 20)
#define REPS 7

static char buf[1 << 16];

static long meminfo_kb(const char *field) {
    return probe_meminfo_kb(buf, sizeof buf, field);
}

static long median(long *v) {
    return probe_median(v, REPS);
}

/* a 16 MiB memfd, mapped shared and every page written */
static char *filled(int *fd) {
    *fd = memfd_create("probe", 0);
    if (*fd < 0 || ftruncate(*fd, M16) != 0) exit(1);
    char *p = mmap(NULL, M16, PROT_READ | PROT_WRITE, MAP_SHARED, *fd, 0);
    if (p == MAP_FAILED) exit(1);
    for (long i = 0; i < M16; i += 4096) p[i] = 1;
    return p;
}

#define EXP(name, pre, step, post)                                                        \
    do {                                                                                  \
        long dc[REPS], ds[REPS];                                                          \
        for (int r = 0; r < REPS; r++) {                                                  \
            int fd;                                                                       \
            char *p;                                                                      \
            (void)fd;                                                                     \
            (void)p;                                                                      \
            pre;                                                                          \
            long c0 = meminfo_kb("\nCommitted_AS:"), s0 = meminfo_kb("\nShmem:");         \
            step;                                                                         \
            dc[r] = meminfo_kb("\nCommitted_AS:") - c0;                                   \
            ds[r] = meminfo_kb("\nShmem:") - s0;                                          \
            post;                                                                         \
        }                                                                                 \
        printf("{\"exp\":\"%s\",\"committed\":%ld,\"shmem\":%ld}\n", name, median(dc), median(ds)); \
    } while (0)

static void child_exit(void) {
    pid_t c = fork();
    if (c == 0) {
        int fd;
        filled(&fd);
        _exit(0);
    }
    waitpid(c, NULL, 0);
}

int main(void) {
    EXP("close_mapped", p = filled(&fd), close(fd), munmap(p, M16));
    EXP("munmap_last", p = filled(&fd); close(fd), munmap(p, M16), (void)0);
    EXP("munmap_open", p = filled(&fd), munmap(p, M16), close(fd));
    EXP("close_last", p = filled(&fd); munmap(p, M16), close(fd), (void)0);
    EXP("exit", (void)0, child_exit(), (void)0);
    return 0;
}
