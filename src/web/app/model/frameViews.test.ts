/**
 * The frame hover's views: for a frame a process wrote, the frame's
 * kpageflags, the page's pagemap entry and crash's vtop of it (Linux), or
 * WinDbg's !pfn and !pte (Windows); each read from the kernel's view and
 * matched against that view's own data, not against fixed text.
 */
import { describe, expect, it } from "vitest";
import { Session } from "../../../workloads/scenario/session.ts";
import { addressViews, firstUserMapper, frameViews } from "./frameViews.ts";

/** A scenario fed line by line: the session after its last line. */
function runScenarioSession(text: string): Session {
  const s = new Session();
  const lines = text.trim().split("\n");
  for (let i = 0; i < lines.length; i++) s.feed(lines[i], i + 1);
  return s;
}

describe("the frame hover's views", () => {
  it("Linux: kpageflags of the frame, pagemap and vtop of the first page that maps it", () => {
    const s = runScenarioSession("machine ram=64M\nspawn A\nA: a = mmap 2p\nA: write a+1p\n");
    const view = s.kernel!.view;
    const A = s.processes.get("A")!;
    const va = s.variables.get("a")! + 4096n;
    const pfn = view.page(A, Number(va >> 12n)).pfn;
    const m = firstUserMapper(view, pfn);
    expect(m).toMatchObject({ pid: view.task(A).pid, va });
    const lines = frameViews(view, pfn, m);
    expect(lines[0]).toContain(`0x${view.kpageflags(pfn)!.toString(16).padStart(16, "0")}`);
    expect(lines[0]).toMatch(/anonymous/);
    // the pagemap line: present, this frame
    expect(lines.some((l) => l.includes(`present pfn 0x${pfn.toString(16)}`))).toBe(true);
    // crash's vtop of that address, as `show A vtop` prints it
    const vtop = view.vtop(A, va);
    expect(lines.slice(-vtop.length)).toEqual(vtop);
    // the tree's hover for the same page: the same pagemap and vtop lines, without the frame's
    expect(addressViews(view, m!)).toEqual(lines.slice(2));
    // a page not present: its pagemap entry says nothing, vtop says so too
    const hole = addressViews(view, { ...m!, va: s.variables.get("a")! });
    expect(hole[1]).toMatch(/ADDRESS/);
    expect(hole[2]).toMatch(/\(nothing\)|soft-dirty/);
    // the zero page is everyone's: no single mapper
    expect(firstUserMapper(view, view.machine().zeroPfn)).toBeNull();
  });

  it("Windows: !pfn of the frame and !pte of the first page that maps it", () => {
    const s = runScenarioSession(
      "machine ram=64M profile=windows\nspawn A\nA: a = VirtualAlloc 64K reserve+commit\nA: write a\n",
    );
    const view = s.kernel!.view;
    const A = s.processes.get("A")!;
    const va = s.variables.get("a")!;
    const pfn = view.page(A, Number(va >> 12n)).pfn;
    const lines = frameViews(view, pfn, firstUserMapper(view, pfn));
    expect(lines[0]).toBe(`kd> !pfn ${pfn.toString(16)}`);
    const pte = lines.findIndex((l) => l.startsWith("kd> !pte"));
    expect(lines[pte]).toContain(va.toString(16));
    expect(lines.slice(pte + 1).join("\n")).toMatch(/pfn/);
    expect(lines.slice(pte)).toEqual(addressViews(view, { task: A, pid: view.task(A).pid, comm: "A", va }));
  });
});
