/**
 * The protection-key statements (`P: VAR = pkey_alloc`, `P: pkey_mprotect
 * ADDR SIZE prot=PROT pkey=N`, `P: wrpkru VALUE`, and the extensions
 * `pkey_free`, `disable_access|disable_write`, `flags=`), the metrics
 * `P.pkru` and `P.si_pkey`, smaps' ProtectionKey, and the `pku` machine key.
 */
import { describe, expect, it } from "vitest";
import { InputError } from "../../../base/errors.ts";
import { runScenario } from "../session.ts";

function error(source: string): string {
  try {
    runScenario(source, { file: "s.vm" });
  } catch (e) {
    if (e instanceof InputError) return e.format();
    throw e;
  }
  throw new Error("no error");
}

function failures(src: string): string[] {
  const r = runScenario(src, { checkInvariants: true });
  expect(r.expectations.length).toBeGreaterThan(0);
  return r.expectations.filter((e) => !e.ok).map((e) => `line ${e.line}: ${e.text} (got ${e.actual})`);
}

describe("protection-key statements", () => {
  it("run as Linux does: rights in PKRU, SEGV_PKUERR with si_pkey, WRPKRU reopening the key", () => {
    expect(
      failures(`machine ram=64M pku=on
spawn A
A: catch SIGSEGV
A: a = mmap 4p
A: write a 4p value=5
A: k = pkey_alloc disable_access
expect k == 1
expect A.pkru == 0x55555554
A: r = pkey_mprotect a 2p prot=rw pkey=k
expect r == 0
A: read a
expect A.si_code == SEGV_PKUERR
expect A.si_pkey == 1
A: read a+2p
expect A.si_addr == a
A: wrpkru 0x55555550
A: write a+1p value=6
expect byte(A, a+1p) == 6
A: e = pkey_alloc flags=1
expect e == -22
A: e2 = pkey_mprotect a 1p prot=r pkey=3
expect e2 == -22
`),
    ).toEqual([]);
  });

  it("a huge PMD carries the key (vm_get_page_prot), and so do the PTEs of its split", () => {
    expect(
      failures(`machine ram=256M pku=on thp=always
spawn A
A: catch SIGSEGV
A: h = mmap 4M
A: write h 2M value=1
A: k = pkey_alloc disable_write
A: pkey_mprotect h 2M prot=rw pkey=k
expect anon_huge(A, h 2M) == 512
A: write h value=2
expect A.si_pkey == 1
A: pkey_mprotect h 1M prot=rw pkey=0
expect anon_huge(A, h 2M) == 0
A: write h value=2
expect byte(A, h) == 2
A: write h+1M value=2
expect A.si_addr == h+1M
expect byte(A, h+1M) == 1
`),
    ).toEqual([]);
  });

  it("kernel accesses obey PKRU: copy_to_user ends at the fixup, a plain write oopses with PK in the error code", () => {
    const r = runScenario(`machine ram=64M pku=on smap=off
spawn A
A: a = mmap 4K
A: write a value=1
A: k = pkey_alloc disable_write
A: pkey_mprotect a 4K prot=rw pkey=k
explain kernel a write
kernel: n = copy_to_user A a 8
expect n == 8
kernel: write a value=3
expect oops_error_code == 0x23
`);
    expect(r.failed).toBe(0);
    expect(r.statements[6].output.join(" ")).toMatch(
      /X86_PF_PK: the page's protection key is denied by PKRU 0x55555558/,
    );
    expect(r.statements[9].output).toContain("#PF: error_code(0x0023) - protection keys violation");
  });

  it("smaps shows ProtectionKey only with pku=on; without it pkey_alloc is -EINVAL and WRPKRU is SIGILL", () => {
    const on = runScenario("machine ram=64M pku=on\nspawn A\nA: a = mmap 4K\nshow A smaps\n");
    expect(on.statements.at(-1)!.output.filter((l) => l.startsWith("ProtectionKey:"))).toEqual([
      "ProtectionKey:         0",
      "ProtectionKey:         0",
    ]);
    const off = runScenario(
      "machine ram=64M\nspawn A\nA: a = mmap 4K\nshow A smaps\nA: k = pkey_alloc\nexpect k == -22\nA: k2 = pkey_alloc\nexpect k2 == -28\nA: wrpkru 0\nexpect A.signal == SIGILL\nexpect A.alive == 0\n",
    );
    expect(off.statements[3].output.some((l) => l.startsWith("ProtectionKey:"))).toBe(false);
    expect(off.failed).toBe(0);
  });

  it("refuses bad forms at their place", () => {
    const pre = "machine ram=64M pku=on\nspawn A\nA: a = mmap 4K\n";
    expect(error(`${pre}A: pkey_mprotect a 4K prot=r\n`)).toMatch(/^s\.vm:4:4: pkey_mprotect needs pkey=N/);
    expect(error(`${pre}A: k = pkey_alloc readonly\n`)).toMatch(
      /^s\.vm:4:19: pkey_alloc takes disable_access/,
    );
    expect(error(`${pre}A: wrpkru 0x100000000\n`)).toMatch(/^s\.vm:4:11: PKRU is 32 bits/);
    expect(error(`${pre}A: x = wrpkru 0\n`)).toMatch(/^s\.vm:4:4: 'wrpkru' returns nothing to assign/);
    expect(error("machine ram=64M arch=arm64\nspawn A\nA: k = pkey_alloc\n")).toMatch(
      /^s\.vm:3:8: 'pkey_alloc' is x86-64's \(protection keys, PKRU\); arm64 has none modelled/,
    );
    expect(error("machine ram=64M arch=arm64 pku=on\n")).toMatch(/pku.*is x86-64's \(X86_FEATURE_OSPKE/);
  });
});
