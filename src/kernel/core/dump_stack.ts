/**
 * The line every oops prints before the registers (lib/dump_stack.c
 * dump_stack_print_info, reached from show_regs on every architecture):
 * `CPU: %d UID: %u PID: %d Comm: %.20s %s %s %.*s`, with print_tainted()
 * (kernel/panic.c print_tainted_seq: "Not tainted", or "Tainted: " and one
 * character per taint_flags entry) and the release and version's first word;
 * then, once tainted, `Tainted: ` and print_tainted_verbose()'s list.
 *
 * The only taint vmlab's kernel takes is TAINT_DIE ('D'), which oops_end
 * (x86), die() (arm64, RISC-V) add after every oops: an oops after the first
 * prints it. No modules (TAINT_PROPRIETARY_MODULE's false character 'G'
 * leads), no WARN, no bad page state.
 */

/** init_utsname()->release and the first word of ->version, as a 6.12 build prints them. */
export const UTS_RELEASE = "6.12.0";
export const UTS_VERSION = "#1";

/** taint_flags' characters with only TAINT_DIE set: 'G' (no proprietary module), then ' ' but 'D' (bit 7). */
const TAINTED_DIE = `G${" ".repeat(6)}D${" ".repeat(11)}`;

/**
 * dump_stack_print_info for the task `comm` (pid, euid `uid`) on `cpu`, `serial` being
 * this oops's number (the `[#N]` of its header): an earlier oops has tainted the kernel.
 */
export function dumpStackInfo(cpu: number, uid: number, pid: number, comm: string, serial: number): string[] {
  const tainted = serial > 1;
  const line = `CPU: ${cpu} UID: ${uid} PID: ${pid} Comm: ${comm.slice(0, 20)} ${tainted ? `Tainted: ${TAINTED_DIE}` : "Not tainted"} ${UTS_RELEASE} ${UTS_VERSION}`;
  return tainted ? [line, "Tainted: [D]=DIE"] : [line];
}
