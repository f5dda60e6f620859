/**
 * x86-64 protection keys, the register's side (core.ts ArchPkeys): PKRU,
 * two bits per key (AD, bit 2i: access disabled; WD, bit 2i+1: write
 * disabled; SDM Vol. 3A §4.6.2), read and written with RDPKRU/WRPKRU on
 * the CPU. The allocation of keys and the threads' copies are generic
 * (core/pkeys.ts).
 * Linux: arch/x86/include/asm/pkeys.h, pkru.h, arch/x86/mm/pkeys.c,
 * arch/x86/kernel/fpu/xstate.c (arch_set_user_pkey_access).
 */
import type { Mmu } from "../../../hw/mmu/Mmu.ts";
import type { ArchPkeys } from "../../core/core.ts";
import { PKEY_DISABLE_ACCESS, PKEY_DISABLE_WRITE } from "../../core/pkeys.ts";
import { x86Cpu } from "./cpu.ts";

/** PKRU_AD_BIT, PKRU_WD_BIT, PKRU_BITS_PER_PKEY (arch/x86/include/asm/pkru.h) */
const PKRU_AD_BIT = 0x1;
const PKRU_WD_BIT = 0x2;
const PKRU_BITS_PER_PKEY = 2;

/** init_pkru_value (arch/x86/mm/pkeys.c): PKRU_AD_MASK(1) | ... | PKRU_AD_MASK(15): every key but 0 access-disabled */
export const INIT_PKRU_VALUE = 0x55555554;

/** __pkru_allows_pkey (pkru.h): AD clear, and for a write WD clear too. */
export function pkruAllows(pkru: number, pkey: number, write: boolean): boolean {
  const bits = (pkru >>> (pkey * PKRU_BITS_PER_PKEY)) & 3;
  return write ? bits === 0 : (bits & PKRU_AD_BIT) === 0;
}

/** x86-64's keys: 16 with OSPKE (`pku=on`), else arch_max_pkey() is 1 and the register is never used. */
export function x86Pkeys(enabled: boolean): ArchPkeys {
  return {
    enabled,
    maxPkey: enabled ? 16 : 1,
    initValue: INIT_PKRU_VALUE,
    register: "PKRU",
    read: (cpu: Mmu) => x86Cpu(cpu).pkru,
    // write_pkru: WRPKRU only when the value changes (the same register either way)
    write: (cpu: Mmu, value: number) => {
      if (x86Cpu(cpu).pkru !== value >>> 0) x86Cpu(cpu).wrpkru(value);
    },
    allows: pkruAllows,
    // arch_set_user_pkey_access: the key's two bits replaced
    withRights: (value: number, pkey: number, rights: number) => {
      const shift = pkey * PKRU_BITS_PER_PKEY;
      let bits = 0;
      if (rights & PKEY_DISABLE_ACCESS) bits |= PKRU_AD_BIT;
      if (rights & PKEY_DISABLE_WRITE) bits |= PKRU_WD_BIT;
      return ((value & ~((PKRU_AD_BIT | PKRU_WD_BIT) << shift)) | (bits << shift)) >>> 0;
    },
    describe: (value: number, pkey: number) => {
      const bits = (value >>> (pkey * PKRU_BITS_PER_PKEY)) & 3;
      return `AD${pkey}=${bits & PKRU_AD_BIT} WD${pkey}=${(bits & PKRU_WD_BIT) >>> 1}`;
    },
  };
}
