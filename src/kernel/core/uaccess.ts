/**
 * The kernel's user-access routines (on x86: arch/x86/lib copy_user_64.S,
 * getuser.S, putuser.S, clear_user; lib/strncpy_from_user.c) and the
 * exception table they rely on (arch/x86/mm/extable.c).
 *
 * Each routine checks access_ok, sets EFLAGS.AC (STAC) so that SMAP lets
 * supervisor accesses reach user pages, and clears it (CLAC) when it ends,
 * however it ends. Every user access runs at a known instruction address;
 * a page fault there goes through do_user_addr_fault in the context of the
 * current task (the page is faulted or swapped in and the fault counted
 * against the task), and a fault that cannot be resolved is looked up in
 * the exception table: execution resumes at the entry's fixup, which turns
 * it into "bytes not copied" or -EFAULT. A fault at an instruction without
 * an entry would be an oops; in vmlab that is a broken invariant.
 */
import { assert } from "../../base/assert.ts";
import { fromBig } from "../../base/u64.ts";
import { physAddrUnchecked } from "../../base/units.ts";
import { Access, Mode } from "../../hw/access.ts";
import type { Mmu } from "../../hw/mmu/Mmu.ts";
import type { Task } from "./task.ts";

/** A user-access instruction and the fixup its exception-table entry names. */
export interface ExtableEntry {
  fixup: bigint;
  type: "EX_TYPE_UACCESS";
  /** the routine the instruction belongs to, and what the fixup does */
  symbol: string;
  handler: string;
}

/** The `rep movsb` of rep_movs_alternative (copy_to_user, copy_from_user). */
export const COPY_USER_IP = 0xffffffff81e0c2a0n;
export const COPY_USER_FIXUP = 0xffffffff81e0c2c3n;
/** The load of __get_user_N and the store of __put_user_N. */
export const GET_USER_IP = 0xffffffff81e0b1c6n;
export const PUT_USER_IP = 0xffffffff81e0b3a4n;
/** The `rep stosb` of rep_stos_alternative (clear_user). */
export const CLEAR_USER_IP = 0xffffffff81e0c3f0n;
/** do_strncpy_from_user: the word-at-a-time load and the byte-at-a-time load. */
export const STRNCPY_WORD_IP = 0xffffffff81e3a512n;
export const STRNCPY_BYTE_IP = 0xffffffff81e3a5a8n;

/** The initial exception table (sorted by instruction, as __ex_table is). */
export function defaultExtable(): Map<bigint, ExtableEntry> {
  const e = (fixup: bigint, symbol: string, handler: string): ExtableEntry => ({
    fixup,
    type: "EX_TYPE_UACCESS",
    symbol,
    handler,
  });
  return new Map([
    [GET_USER_IP, e(0xffffffff81e0b1f0n, "__get_user_8", "zero the value, return -EFAULT")],
    [PUT_USER_IP, e(0xffffffff81e0b3d0n, "__put_user_8", "return -EFAULT")],
    [COPY_USER_IP, e(COPY_USER_FIXUP, "rep_movs_alternative", "return the bytes not copied")],
    [CLEAR_USER_IP, e(0xffffffff81e0c410n, "rep_stos_alternative", "return the bytes not cleared")],
    [STRNCPY_WORD_IP, e(0xffffffff81e3a590n, "do_strncpy_from_user", "go on byte at a time")],
    [STRNCPY_BYTE_IP, e(0xffffffff81e3a5e0n, "do_strncpy_from_user", "return -EFAULT")],
  ]);
}

/** What a user-access routine did. */
export interface UserCopyResult {
  /** bytes NOT copied (copy_*_user, clear_user), as Linux returns */
  notCopied: number;
  /** page faults taken (resolved or fixed up) */
  faults: number;
  /** an exception-table fixup ran (a fault the kernel could not resolve) */
  fixedUp: boolean;
  /** access_ok refused the range */
  accessOkFailed: boolean;
}

/** get_user / put_user / strncpy_from_user: a return value (0, a length, or -EFAULT) and, for reads, what was read. */
export interface UserValueResult extends UserCopyResult {
  ret: number;
  /** get_user: the value (0 after a fault, as get_user zeroes it); strncpy_from_user: unused */
  value: bigint;
  /** strncpy_from_user: the bytes stored in the kernel buffer */
  bytes: number[];
}

/** What the routines need from the kernel. */
export interface UaccessEnv {
  readonly cpus: readonly Mmu[];
  /**
   * TASK_SIZE_MAX: access_ok's limit. x86-64: (1 << 47) - PAGE_SIZE (valid_user_address,
   * USER_PTR_MAX), so a range reaching into the guard page below the non-canonical hole fails
   * access_ok; RISC-V 64: LONG_MAX, so a range crossing TASK_SIZE passes and stops at the
   * first byte no VMA covers; arm64: 1 << VA_BITS; i386: PAGE_OFFSET.
   */
  readonly taskSizeMax: bigint;
  /** sizeof(long): do_strncpy_from_user's word (8; 4 on i386) */
  readonly longBytes: number;
  /** CONFIG_HAVE_EFFICIENT_UNALIGNED_ACCESS: false makes an unaligned string go byte at a time */
  readonly efficientUnaligned: boolean;
  /** the bytes a copy or clear stopped by a fault at `f` reports done (Arch.usercopyReported); absent: f */
  readonly reported?: {
    copy(toUser: boolean, userLow: number, kernelLow: number, n: number, f: number): number;
    clear?(userLow: number, n: number, f: number): number;
  };
  /** the task whose context CPU `cpuId` runs (the current task, or its kworker) */
  contextTask(cpuId: number): Task;
  /** the task current on CPU `cpuId`, null when idle (contextTask would make a kworker) */
  current(cpuId: number): Task | null;
  /**
   * untagged_addr, which access_ok applies for a kernel thread or a task with TIF_TAGGED_ADDR
   * (arm64's tagged address ABI); absent: the address is checked as it is
   */
  readonly untaggedAddr?: (addr: bigint) => bigint;
  /** the kernel is entered on `cpuId` (the uaccess runs there; CR3 switch under PTI) */
  enter(cpuId: number): void;
  /** do_user_addr_fault for the fault `cpu` took in kernel mode on a user address; true when resolved */
  resolveUserFault(task: Task, cpu: Mmu, va: bigint): boolean;
  /** user_access_begin / user_access_end: lift and restore the architecture's guard (x86 STAC/CLAC, ARM64 PAN) */
  begin(cpu: Mmu): void;
  end(cpu: Mmu): void;
  /**
   * The routines' loads and stores are unprivileged (arm64 LDTR/STTR, Linux
   * 5.11 and later): checked as user-mode accesses while the CPU stays in
   * kernel mode, PAN left set. False: ordinary kernel-mode accesses inside
   * begin/end (x86 under STAC).
   */
  readonly unprivileged: boolean;
}

const EFAULT = 14;

export class Uaccess {
  /** The exception table: faulting instruction -> fixup (search_exception_tables). */
  readonly extable = defaultExtable();

  constructor(private readonly env: UaccessEnv) {}

  /**
   * access_ok as `task` (current; null or dead: the kworker contextTask makes) checks it:
   * [uva, uva+len) lies below TASK_SIZE_MAX without wrapping (asm-generic __access_ok: size <=
   * limit && addr <= limit - size; x86-64's sum <= USER_PTR_MAX). On arm64 the address is
   * untagged first for a kernel thread or a task that enabled the tagged address ABI
   * (TIF_TAGGED_ADDR); without it a pointer with a top-byte tag is past TASK_SIZE_MAX.
   * Linux: arch/arm64/include/asm/uaccess.h access_ok
   */
  accessOk(task: Task | null, uva: bigint, len: number | bigint): boolean {
    const untag = this.env.untaggedAddr;
    const tagged = untag !== undefined && (task === null || !task.alive || task.kthread || task.taggedAddr);
    const a = tagged ? untag(uva) : uva;
    return len >= 0 && a >= 0n && a + BigInt(len) <= this.env.taskSizeMax;
  }

  /**
   * The physical address of user byte `va` for an access by the instruction
   * at `ip`: translated by the CPU (in kernel mode, AC set), and on a fault
   * resolved by do_user_addr_fault and retried. Returns -1 when the fault
   * cannot be resolved; the instruction must then have an exception-table
   * entry (fixup_exception), else this is an oops.
   */
  private userPa(cpu: Mmu, task: Task, va: bigint, access: Access, ip: bigint, res: UserCopyResult): number {
    const { hi, lo } = fromBig(va);
    for (let attempt = 0; attempt < 8; attempt++) {
      const out = this.env.unprivileged
        ? cpu.translateAs(hi, lo, access, Mode.User)
        : cpu.translate(hi, lo, access);
      if (out === 0) return cpu.pa;
      res.faults++;
      if (this.env.resolveUserFault(task, cpu, va)) continue;
      assert(this.extable.has(ip), `uaccess at 0x${ip.toString(16)} without an exception-table entry`);
      res.fixedUp = true;
      return -1;
    }
    assert(false, `uaccess: the fault at 0x${va.toString(16)} keeps coming back`);
  }

  /** user_access_begin ... user_access_end (STAC ... CLAC) around `body`, in the context of the task current on `cpuId`. */
  private withUserAccess<T>(cpuId: number, body: (cpu: Mmu, task: Task) => T): T {
    const task = this.env.contextTask(cpuId);
    this.env.enter(cpuId);
    const cpu = this.env.cpus[cpuId];
    cpu.setUserMode(false);
    this.env.begin(cpu);
    try {
      return body(cpu, task);
    } finally {
      this.env.end(cpu);
    }
  }

  private static result(len: number): UserCopyResult {
    return { notCopied: len, faults: 0, fixedUp: false, accessOkFailed: false };
  }

  /**
   * A user range, page by page at the instruction `ip`: access_ok, then
   * `each(pa, n, done)` for every piece reached; a fault nobody resolves
   * stops it through the fixup. Returns the bytes not done.
   */
  private range(
    cpuId: number,
    uva: bigint,
    len: number,
    access: Access,
    ip: bigint,
    each: (cpu: Mmu, pa: number, n: number, done: number, vaHi: number, vaLo: number) => void,
  ): UserCopyResult {
    const res = Uaccess.result(len);
    if (!this.accessOk(this.env.current(cpuId), uva, len)) {
      res.accessOkFailed = true;
      return res;
    }
    let done = 0;
    this.withUserAccess(cpuId, (cpu, task) => {
      while (done < len) {
        const va = uva + BigInt(done);
        const pa = this.userPa(cpu, task, va, access, ip, res);
        if (pa < 0) break;
        const n = Math.min(len - done, 4096 - (pa % 4096));
        const { hi, lo } = fromBig(va);
        each(cpu, pa, n, done, hi, lo);
        done += n;
      }
    });
    res.notCopied = len - done;
    return res;
  }

  /**
   * copy_to_user / copy_from_user of `len` bytes at `uva`, page by page at
   * COPY_USER_IP. `toUser` writes `data(i)` for byte i; otherwise `sink(i,
   * byte)` receives what was read. `kernelLow`: the kernel buffer's address
   * (its low bits: the architecture's routine may report a short copy by
   * its alignment; default an aligned buffer). Returns the bytes not copied:
   * on x86 exactly the bytes before the fault; on arm64 and RISC-V what
   * their routines report (Arch.usercopyReported), which can be fewer.
   */
  copy(
    cpuId: number,
    uva: bigint,
    len: number,
    toUser: boolean,
    data: (i: number) => number,
    sink: (i: number, byte: number) => void = () => {},
    kernelLow = 0,
  ): UserCopyResult {
    const access = toUser ? Access.Write : Access.Read;
    const res = this.range(cpuId, uva, len, access, COPY_USER_IP, (cpu, pa, n, done, vaHi, vaLo) => {
      // the user bytes go through the CPU's memory port (the one access path)
      for (let i = 0; i < n; i++) {
        if (toUser) cpu.mem.write8(physAddrUnchecked(pa + i), data(done + i), vaHi, vaLo + i);
        else sink(done + i, cpu.mem.read8(physAddrUnchecked(pa + i), vaHi, vaLo + i));
      }
    });
    const rep = this.env.reported;
    if (res.fixedUp && rep !== undefined)
      res.notCopied = len - rep.copy(toUser, Number(uva & 15n), kernelLow & 15, len, len - res.notCopied);
    return res;
  }

  /**
   * clear_user: access_ok, then `rep stosb` of zeros over [uva, uva+len).
   * Returns the bytes not cleared (all of them when access_ok fails).
   */
  clear(cpuId: number, uva: bigint, len: number): UserCopyResult {
    const res = this.range(cpuId, uva, len, Access.Write, CLEAR_USER_IP, (cpu, pa, n, _done, vaHi, vaLo) => {
      for (let i = 0; i < n; i++) cpu.mem.write8(physAddrUnchecked(pa + i), 0, vaHi, vaLo + i);
    });
    const rep = this.env.reported?.clear;
    if (res.fixedUp && rep !== undefined)
      res.notCopied = len - rep(Number(uva & 15n), len, len - res.notCopied);
    return res;
  }

  /**
   * One access of `size` bytes (a single mov; it may span two pages, and
   * both must be reachable before any byte moves). Returns the physical
   * address of each byte, or null after a fixup.
   */
  private span(
    cpu: Mmu,
    task: Task,
    va: bigint,
    size: number,
    access: Access,
    ip: bigint,
    res: UserCopyResult,
  ): number[] | null {
    const first = this.userPa(cpu, task, va, access, ip, res);
    if (first < 0) return null;
    const inPage = 4096 - (first % 4096);
    let second = -1;
    if (size > inPage) {
      second = this.userPa(cpu, task, va + BigInt(inPage), access, ip, res);
      if (second < 0) return null;
    }
    const pas: number[] = [];
    for (let i = 0; i < size; i++) pas.push(i < inPage ? first + i : second + (i - inPage));
    return pas;
  }

  /**
   * get_user / put_user: access_ok of `size` bytes, then one access of `first` bytes (default
   * `size`) at `ip`; `move` reads or writes the bytes reached (false: a later access faulted).
   */
  private single(
    cpuId: number,
    uva: bigint,
    size: 1 | 2 | 4 | 8,
    access: Access,
    ip: bigint,
    res: UserValueResult,
    move: (cpu: Mmu, pas: number[], task: Task) => boolean,
    first: number = size,
  ): UserValueResult {
    if (!this.accessOk(this.env.current(cpuId), uva, size)) {
      res.accessOkFailed = true;
      return res;
    }
    this.withUserAccess(cpuId, (cpu, task) => {
      const pas = this.span(cpu, task, uva, first, access, ip, res);
      if (pas === null || !move(cpu, pas, task)) return;
      res.ret = 0;
      res.notCopied = 0;
    });
    return res;
  }

  /**
   * get_user(x, ptr) of 1, 2, 4 or 8 bytes (little-endian): 0 and the
   * value, or -EFAULT with the value zeroed. An address above TASK_SIZE_MAX
   * fails without touching memory (getuser.S's range check).
   */
  get(cpuId: number, uva: bigint, size: 1 | 2 | 4 | 8): UserValueResult {
    const res: UserValueResult = { ...Uaccess.result(size), ret: -EFAULT, value: 0n, bytes: [] };
    return this.single(cpuId, uva, size, Access.Read, GET_USER_IP, res, (cpu, pas) => {
      let v = 0n;
      for (let i = size - 1; i >= 0; i--) v = (v << 8n) | BigInt(userByte(cpu, pas[i], uva + BigInt(i)));
      res.value = v;
      return true;
    });
  }

  /**
   * put_user(x, ptr) of 1, 2, 4 or 8 bytes: 0, or -EFAULT with nothing
   * written. On a 32-bit kernel (sizeof(long) 4) __put_user_8 is two 4-byte
   * movs (putuser.S: `mov %eax,(%ecx)` then `movl %edx,4(%ecx)`): when only
   * the second faults, the low half is written and the result is -EFAULT.
   */
  put(cpuId: number, uva: bigint, size: 1 | 2 | 4 | 8, value: bigint): UserValueResult {
    const res: UserValueResult = { ...Uaccess.result(size), ret: -EFAULT, value, bytes: [] };
    const store = (cpu: Mmu, pas: number[], from: number) => {
      for (let i = 0; i < pas.length; i++) {
        const { hi, lo } = fromBig(uva + BigInt(from + i));
        cpu.mem.write8(physAddrUnchecked(pas[i]), Number((value >> BigInt(8 * (from + i))) & 0xffn), hi, lo);
      }
    };
    if (size === 8 && this.env.longBytes === 4)
      return this.single(
        cpuId,
        uva,
        8,
        Access.Write,
        PUT_USER_IP,
        res,
        (cpu, pas, task) => {
          store(cpu, pas, 0);
          const high = this.span(cpu, task, uva + 4n, 4, Access.Write, PUT_USER_IP, res);
          if (high === null) return false; // the second mov's fixup: -EFAULT
          store(cpu, high, 4);
          return true;
        },
        4,
      );
    return this.single(cpuId, uva, size, Access.Write, PUT_USER_IP, res, (cpu, pas) => {
      store(cpu, pas, 0);
      return true;
    });
  }

  /**
   * strncpy_from_user(dst, src, count) (lib/strncpy_from_user.c): copies a
   * NUL-terminated string of at most `count` bytes. Returns its length (the
   * NUL not counted), `count` when no NUL came within `count` bytes, 0 for a
   * count <= 0, and -EFAULT when src is not a user address or a byte of the
   * string cannot be read. It reads words of sizeof(long) bytes (8; 4 on
   * i386) while a word remains, at any alignment where the architecture has
   * efficient unaligned access (x86, arm64), else only from an aligned
   * source (RISC-V: an unaligned one goes byte at a time). A word that faults
   * sends it on byte at a time, so a string ending just before an unmapped
   * page still succeeds, but a word reaching into a present-but-untouched
   * page faults it in. On arm64 the limit is taken from untagged_addr(src) and access_ok
   * checks src as given, so a tagged string needs the tagged address ABI.
   */
  strncpy(cpuId: number, src: bigint, count: number): UserValueResult {
    const res: UserValueResult = { ...Uaccess.result(0), ret: 0, value: 0n, bytes: [] };
    if (count <= 0) return res;
    // src_addr = untagged_addr(src) (whatever TIF_TAGGED_ADDR says) must lie below TASK_SIZE_MAX
    const untag = this.env.untaggedAddr;
    const srcAddr = untag === undefined ? src : untag(src);
    if (srcAddr < 0n || srcAddr >= this.env.taskSizeMax) {
      res.accessOkFailed = true;
      res.ret = -EFAULT;
      return res;
    }
    const limit = this.env.taskSizeMax - srcAddr;
    const max0 = limit < BigInt(count) ? Number(limit) : count;
    // user_read_access_begin(src, max): access_ok of the address as given (arm64 untags it only
    // for a kernel thread or a task with TIF_TAGGED_ADDR)
    if (!this.accessOk(this.env.current(cpuId), src, max0)) {
      res.accessOkFailed = true;
      res.ret = -EFAULT;
      return res;
    }
    const word = this.env.longBytes;
    // IS_UNALIGNED(src, dst): without efficient unaligned access an unaligned source goes
    // byte at a time from the start (dst, a kmalloc'd kernel buffer, is aligned)
    const words = this.env.efficientUnaligned || src % BigInt(word) === 0n;
    res.ret = this.withUserAccess(cpuId, (cpu, task) => {
      let got = 0;
      let max = max0;
      while (words && max >= word) {
        const pas = this.span(cpu, task, src + BigInt(got), word, Access.Read, STRNCPY_WORD_IP, res);
        if (pas === null) break; // the fixup: byte_at_a_time
        for (let i = 0; i < word; i++) {
          const c = userByte(cpu, pas[i], src + BigInt(got + i));
          res.bytes.push(c);
          if (c === 0) return got + i;
        }
        got += word;
        max -= word;
      }
      while (max > 0) {
        const pa = this.userPa(cpu, task, src + BigInt(got), Access.Read, STRNCPY_BYTE_IP, res);
        if (pa < 0) return -EFAULT;
        const c = userByte(cpu, pa, src + BigInt(got));
        res.bytes.push(c);
        if (c === 0) return got;
        got++;
        max--;
      }
      // hit max: fine if it was the caller's count, else the address-space limit
      return got >= count ? got : -EFAULT;
    });
    return res;
  }
}

/** A user byte through the CPU's memory port. */
function userByte(cpu: Mmu, pa: number, va: bigint): number {
  const { hi, lo } = fromBig(va);
  return cpu.mem.read8(physAddrUnchecked(pa), hi, lo);
}
