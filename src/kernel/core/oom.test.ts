/**
 * oom_score_adj (signal->oom_score_adj) as mm/oom_kill.c and fs/proc/base.c
 * use it: oom_badness adds adj * (totalpages / 1000), -1000 is never
 * chosen, /proc/PID/oom_score has it in, fork copies it, a process's threads
 * share it, the write's EINVAL and EACCES, and the OOM killer's two report
 * lines print the invoker's and the victim's.
 */
import { describe, expect, it } from "vitest";
import { KernelImpl as Kernel } from "../KernelImpl.ts";
import { fillAnon } from "../mm.testkit.ts";
import { checkInvariants } from "../view/invariants.ts";
import { oomBadness, oomTotalPages } from "./oom.ts";

function boot() {
  return new Kernel({ ramBytes: 64 << 20, cpus: 1, overcommit: "always" });
}

const fill = fillAnon;

describe("oom_score_adj", () => {
  it("oom_badness adds adj * (totalpages / 1000), division first; oom_score scales it; -1000 scores 0", () => {
    const k = boot();
    const t = k.spawn("A")!;
    fill(k, t, 1000);
    const total = oomTotalPages(k);
    const base = oomBadness(k, t, total);
    expect(base).toBeGreaterThanOrEqual(1000);
    const score = (b: number) => Math.trunc(((1000 + Math.trunc((b * 1000) / total)) * 2) / 3);
    expect(k.view.oomScore(t)).toBe(score(base));
    for (const adj of [500, -300, 1000]) {
      expect(k.setOomScoreAdj(t, adj)).toBe(0);
      expect(oomBadness(k, t, total)).toBe(base + adj * Math.floor(total / 1000));
      expect(k.view.oomScore(t)).toBe(score(base + adj * Math.floor(total / 1000)));
    }
    expect(k.setOomScoreAdj(t, -1000)).toBe(0);
    expect(oomBadness(k, t, total)).toBe(Number.NEGATIVE_INFINITY);
    expect(k.view.oomScore(t)).toBe(0);
  });

  it("the write: EINVAL outside -1000..1000; unprivileged, EACCES below what a privileged write set", () => {
    const k = boot();
    const t = k.spawn("A")!;
    expect(k.setOomScoreAdj(t, 1001)).toBe(-22);
    expect(k.setOomScoreAdj(t, -1001)).toBe(-22);
    expect(k.setOomScoreAdj(t, 300)).toBe(0);
    k.setUid(t, 1000);
    expect(k.setOomScoreAdj(t, 400)).toBe(0); // raising is always allowed
    expect(k.setOomScoreAdj(t, 299)).toBe(-13); // below oom_score_adj_min (300)
    expect(k.setOomScoreAdj(t, 300)).toBe(0);
    expect(k.view.oomScoreAdj(t)).toBe(300);
  });

  it("fork copies it, threads share it", () => {
    const k = boot();
    const t = k.spawn("A")!;
    expect(k.setOomScoreAdj(t, 250)).toBe(0);
    const child = k.fork(t, "B")!;
    const th = k.thread(t, "A2")!;
    expect([k.view.oomScoreAdj(child), k.view.oomScoreAdj(th)]).toEqual([250, 250]);
    expect(k.setOomScoreAdj(th, -50)).toBe(0);
    expect([k.view.oomScoreAdj(t), k.view.oomScoreAdj(th), k.view.oomScoreAdj(child)]).toEqual([
      -50, -50, 250,
    ]);
  });

  it("the OOM killer never chooses -1000, weighs adj, and prints the invoker's and the victim's value", () => {
    const k = boot();
    const big = k.spawn("big")!;
    fill(k, big, 6000);
    expect(k.setOomScoreAdj(big, -1000)).toBe(0);
    const mid = k.spawn("mid")!;
    fill(k, mid, 2000);
    expect(k.setOomScoreAdj(mid, 0)).toBe(0);
    const small = k.spawn("small")!;
    fill(k, small, 500);
    // small's adj outweighs mid's 1500 more pages: 600 * (totalpages / 1000) > 1500 on a 64M machine
    expect(k.setOomScoreAdj(small, 600)).toBe(0);
    const hog = k.spawn("hog")!;
    expect(k.setOomScoreAdj(hog, -999)).toBe(0);
    fill(k, hog, 9000);
    expect(k.oomKills).toBeGreaterThanOrEqual(1);
    expect(big.alive).toBe(true);
    expect(small.alive).toBe(false);
    expect(k.oomReports[0]).toMatch(/^hog invoked oom-killer: .*, order=0, oom_score_adj=-999$/);
    expect(k.oomReports.find((l) => l.startsWith("Out of memory: "))).toMatch(
      /^Out of memory: Killed process \d+ \(small\) .* oom_score_adj:600$/,
    );
    expect(checkInvariants(k)).toEqual([]);
  });
});
