import { describe, expect, it } from "vitest";
import { Access } from "../../../hw/access.ts";
import type { Task } from "../../core/task.ts";
import { KernelImpl } from "../../KernelImpl.ts";
import { STATUS_ACCESS_VIOLATION } from "./fault.ts";
import { PageProt } from "./mmpte.ts";
import { STATUS_DATATYPE_MISALIGNMENT } from "./probe.ts";

function winKernel(): { k: KernelImpl; t: Task } {
  const k = new KernelImpl({ ramBytes: 32 << 20, profile: "windows", pagefileBytes: 4 << 20 });
  const t = k.spawn("app")!;
  k.switchTo(0, t);
  return { k, t };
}
const RW = PageProt.READWRITE;

describe("ProbeForRead / ProbeForWrite and __try/__except around the copy", () => {
  it("length 0 checks nothing; a misaligned start and a range past MmUserProbeAddress raise in the probe", () => {
    const { k } = winKernel();
    expect(k.probe(0, 0xffff_8000_0000_0000n, 0, false, 8, 0).status).toBe(0);
    expect(k.probe(0, 0x10001n, 16, false, 4, 0)).toEqual({
      status: STATUS_DATATYPE_MISALIGNMENT,
      raisedBy: "probe",
      copied: 0,
    });
    // the last user page and one byte beyond: the end is above MmUserProbeAddress (0x7FFFFFFF0000)
    expect(k.probe(0, 0x7fff_fffe_f000n, 0x1001, false, 1, 0)).toMatchObject({
      status: STATUS_ACCESS_VIOLATION,
      raisedBy: "probe",
    });
    expect(k.probe(0, 0xffff_8000_0000_0000n, 16, false, 1, 0).status).toBe(STATUS_ACCESS_VIOLATION);
  });

  it("the copy faults committed pages in (demand-zero, then a hard fault) and succeeds", () => {
    const { k, t } = winKernel();
    const a = k.virtualAlloc(t, 0n, 0x3000n, true, true, RW);
    const r = k.probe(0, a + 0x10n, 0x2000, false, 4, 0);
    expect(r).toEqual({ status: 0, raisedBy: "", copied: 0x2000 });
    expect(k.view.windows()!.vads(t)[0].residentPages).toBe(3);
    k.trim(t, true);
    expect(k.probe(0, a, 0x1000, false, 1, 0).status).toBe(0);
    expect(k.view.windows()!.paging().pageReads).toBe(1);
    expect(k.view.invariants()).toEqual([]);
  });

  it("a reserved page inside the buffer: the copy's access violation is caught; the bytes before it were copied", () => {
    const { k, t } = winKernel();
    const a = k.virtualAlloc(t, 0n, 0x10000n, true, false, RW);
    k.virtualAlloc(t, a, 0x2000n, false, true, RW);
    const r = k.probe(0, a + 0x800n, 0x3000, false, 1, 0);
    expect(r).toEqual({ status: STATUS_ACCESS_VIOLATION, raisedBy: "copy", copied: 0x1800 });
    expect(t.alive).toBe(true);
    expect(k.view.windows()!.paging().bugcheck).toBe(0);
  });

  it("ProbeForWrite touches each page for writing: a read-only page raises in the probe, before any copy", () => {
    const { k, t } = winKernel();
    const a = k.virtualAlloc(t, 0n, 0x2000n, true, true, RW);
    k.virtualProtect(t, a + 0x1000n, 0x1000n, PageProt.READONLY);
    expect(k.probe(0, a, 0x2000, false, 1, 0).status).toBe(0);
    expect(k.probe(0, a, 0x2000, true, 1, 0x33)).toEqual({
      status: STATUS_ACCESS_VIOLATION,
      raisedBy: "probe",
      copied: 0,
    });
    expect(k.probe(0, a, 0x1000, true, 1, 0x33).status).toBe(0);
    expect(k.userAccess(0, t, a, Access.Read)).toMatchObject({ ok: true, value: 0x33 });
  });
});
