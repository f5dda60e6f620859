import { Mode } from "../../access.ts";
import { Mmu } from "../../mmu/Mmu.ts";

/**
 * What every x86 paging mode shares (SDM Vol. 3A §2.5, §4.1.3, §4.6): the
 * CPL, CR0.WP, CR4.SMEP/SMAP, IA32_EFER.NXE and RFLAGS.AC, and the
 * instructions that change them (MOV to CR0, WRMSR, STAC, CLAC). x86-64
 * (./Cpu.ts) and 32-bit x86 (../i386/Cpu.ts) extend it; each recomputes
 * its permission table in `updatePerms`. CR0.WP and EFER.NXE start set, as
 * Linux runs them.
 */
export abstract class X86FamilyCpu extends Mmu {
  /** CPL: 0 (kernel) or 3 (user) */
  cpl = 0;
  cr0Wp = true;
  cr4Smep = false;
  cr4Smap = false;
  eferNxe = true;
  rflagsAc = false;

  /** Recomputes what the control bits decide (the permission table, the format's switches). */
  protected abstract updatePerms(): void;

  /** CPL 3 or 0. */
  override setUserMode(user: boolean): void {
    this.cpl = user ? 3 : 0;
  }

  /** The mode an access by the current CPL would have. */
  override currentMode(): Mode {
    return this.cpl === 3 ? Mode.User : Mode.Supervisor;
  }

  /** MOV to CR0 (WP only: paging stays enabled). */
  setWp(wp: boolean): void {
    this.cr0Wp = wp;
    this.updatePerms();
  }

  /** WRMSR IA32_EFER.NXE. */
  setNxe(nxe: boolean): void {
    this.eferNxe = nxe;
    this.updatePerms();
  }

  /** STAC: RFLAGS.AC <- 1 (lifts SMAP for explicit supervisor accesses). */
  stac(): void {
    this.rflagsAc = true;
    this.updatePerms();
    if (this.tracer !== null) this.tracer({ type: "state", cpu: this.id, text: "STAC: RFLAGS.AC <- 1" });
  }

  /** CLAC: RFLAGS.AC <- 0. */
  clac(): void {
    this.rflagsAc = false;
    this.updatePerms();
    if (this.tracer !== null) this.tracer({ type: "state", cpu: this.id, text: "CLAC: RFLAGS.AC <- 0" });
  }
}
