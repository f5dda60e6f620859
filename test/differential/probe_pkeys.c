/*
 * The protection-key system calls on this machine's Linux, in the order
 * pkeys.test.ts runs them on vmlab: pkey_alloc (flags 0, flags 1, rights 0,
 * rights 3), pkey_free of keys 9, 1 and 0,
 * pkey_mprotect with keys 1, 0 and -1, and whether smaps
 * shows ProtectionKey. Results are the raw syscall value or -errno. Prints
 * one JSON line; the CPU's pku flag decides which vmlab machine compares.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

static long sys(long r) { return r < 0 ? -errno : r; }

static int smaps_has_protection_key(void) {
  FILE *f = fopen("/proc/self/smaps", "r");
  char line[512];
  int n = 0;
  if (!f) return -1;
  while (fgets(line, sizeof line, f))
    if (strncmp(line, "ProtectionKey:", 14) == 0) n++;
  fclose(f);
  return n > 0;
}

int main(void) {
  char *p = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return 1;
  long a1 = sys(syscall(SYS_pkey_alloc, 0, 0));
  long a2 = sys(syscall(SYS_pkey_alloc, 1, 0));
  long a3 = sys(syscall(SYS_pkey_alloc, 0, 3));
  long m1 = sys(syscall(SYS_pkey_mprotect, p, 4096, PROT_READ, 1));
  long m0 = sys(syscall(SYS_pkey_mprotect, p, 4096, PROT_READ, 0));
  long mn = sys(syscall(SYS_pkey_mprotect, p, 4096, PROT_READ | PROT_WRITE, -1));
  long f9 = sys(syscall(SYS_pkey_free, 9));
  long f1 = sys(syscall(SYS_pkey_free, 1));
  long f0 = sys(syscall(SYS_pkey_free, 0));
  printf("{\"exp\":\"pkeys\",\"a1\":%ld,\"a2\":%ld,\"a3\":%ld,\"m1\":%ld,\"m0\":%ld,\"mn\":%ld,\"f9\":%ld,"
         "\"f1\":%ld,\"f0\":%ld,\"smaps\":%d}\n",
         a1, a2, a3, m1, m0, mn, f9, f1, f0, smaps_has_protection_key());
  return 0;
}
