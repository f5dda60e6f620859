/*
 * Differential probe for memfd_create(2) and file seals: the flag and name
 * errors, the seals a memfd starts with (F_SEAL_SEAL without
 * MFD_ALLOW_SEALING, F_SEAL_EXEC with MFD_NOEXEC_SEAL), F_SEAL_WRITE's
 * EBUSY while a PROT_READ MAP_SHARED mapping exists and 0 after munmap,
 * then write(2) and a shared writable mmap (EPERM), ftruncate under
 * F_SEAL_SHRINK and F_SEAL_GROW, F_SEAL_EXEC on an executable memfd (the
 * write seals with it), F_ADD_SEALS after F_SEAL_SEAL, and seals on a
 * tmpfs file of /dev/shm (F_SEAL_SEAL: EPERM). One JSON line.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#ifndef MFD_NOEXEC_SEAL
#define MFD_NOEXEC_SEAL 0x0008U
#endif
#ifndef MFD_EXEC
#define MFD_EXEC 0x0010U
#endif
#ifndef F_SEAL_FUTURE_WRITE
#define F_SEAL_FUTURE_WRITE 0x0010
#endif
#ifndef F_SEAL_EXEC
#define F_SEAL_EXEC 0x0020
#endif

#define R(x) ((x) < 0 ? -errno : (x))

int main(void) {
    char longname[251];
    memset(longname, 'n', 250);
    longname[250] = 0;
    int bad_flag = R(memfd_create("x", 0x100));
    int both = R(memfd_create("x", MFD_EXEC | MFD_NOEXEC_SEAL));
    int too_long = R(memfd_create(longname, 0));
    longname[249] = 0;
    int fd249 = memfd_create(longname, MFD_CLOEXEC);
    int ok249 = fd249 >= 0 ? 0 : -errno;
    int plain = memfd_create("p", 0);
    int plain_seals = fcntl(plain, F_GET_SEALS);
    int plain_add = R(fcntl(plain, F_ADD_SEALS, F_SEAL_WRITE));
    int ne = memfd_create("ne", MFD_NOEXEC_SEAL);
    int ne_seals = fcntl(ne, F_GET_SEALS);
    int s = memfd_create("s", MFD_ALLOW_SEALING);
    int s_seals = fcntl(s, F_GET_SEALS);
    int bad_seal = R(fcntl(s, F_ADD_SEALS, 0x40));
    if (ftruncate(s, 8192) != 0) return 1;
    void *ro = mmap(NULL, 8192, PROT_READ, MAP_SHARED, s, 0);
    int busy = R(fcntl(s, F_ADD_SEALS, F_SEAL_WRITE));
    munmap(ro, 8192);
    void *priv = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE, s, 0);
    int sealed = R(fcntl(s, F_ADD_SEALS, F_SEAL_WRITE));
    char buf[4096] = {1};
    int wr = (int)pwrite(s, buf, 4096, 0);
    wr = wr < 0 ? -errno : wr;
    int rd = (int)pread(s, buf, 4096, 0);
    void *w = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, s, 0);
    int shared_w = w == MAP_FAILED ? -errno : 0;
    void *r2 = mmap(NULL, 8192, PROT_READ, MAP_SHARED, s, 0);
    int shared_r = r2 == MAP_FAILED ? -errno : 0;
    int g = memfd_create("g", MFD_ALLOW_SEALING);
    if (ftruncate(g, 16384) != 0) return 1;
    fcntl(g, F_ADD_SEALS, F_SEAL_SHRINK);
    int shrink = R(ftruncate(g, 4096));
    int grow_ok = R(ftruncate(g, 32768));
    fcntl(g, F_ADD_SEALS, F_SEAL_GROW);
    int grow = R(ftruncate(g, 65536));
    int same = R(ftruncate(g, 32768));
    int x = memfd_create("x", MFD_ALLOW_SEALING);
    int exec_add = R(fcntl(x, F_ADD_SEALS, F_SEAL_EXEC));
    int exec_seals = fcntl(x, F_GET_SEALS);
    fcntl(x, F_ADD_SEALS, F_SEAL_SEAL);
    int after_seal = R(fcntl(x, F_ADD_SEALS, 0));
    char path[64];
    snprintf(path, sizeof path, "/dev/shm/vmlab-probe-%d", getpid());
    int shm = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
    int shm_add = shm >= 0 ? R(fcntl(shm, F_ADD_SEALS, F_SEAL_WRITE)) : 0;
    int shm_seals = shm >= 0 ? fcntl(shm, F_GET_SEALS) : 1;
    if (shm >= 0) unlink(path);
    printf("{\"bad_flag\":%d,\"both\":%d,\"too_long\":%d,\"ok249\":%d,\"plain_seals\":%d,\"plain_add\":%d,"
           "\"ne_seals\":%d,\"s_seals\":%d,\"bad_seal\":%d,\"busy\":%d,\"sealed\":%d,\"write\":%d,\"read\":%d,"
           "\"shared_w\":%d,\"shared_r\":%d,\"shrink\":%d,\"grow_ok\":%d,\"grow\":%d,\"same\":%d,"
           "\"exec_add\":%d,\"exec_seals\":%d,\"after_seal\":%d,\"shm_add\":%d,\"shm_seals\":%d,\"priv\":%d}\n",
           bad_flag, both, too_long, ok249, plain_seals, plain_add, ne_seals, s_seals, bad_seal, busy, sealed, wr,
           rd, shared_w, shared_r, shrink, grow_ok, grow, same, exec_add, exec_seals, after_seal, shm_add,
           shm_seals, priv != MAP_FAILED);
    return 0;
}
