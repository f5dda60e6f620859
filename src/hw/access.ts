/** The kind of a memory access. Rights are bit `1 << Access`. */
export const enum Access {
  Read = 0,
  Write = 1,
  Exec = 2,
}

/**
 * Who makes the access (SDM §4.6): a user-mode access (CPL = 3), an explicit
 * supervisor-mode access (CPL < 3), or an implicit supervisor-mode access
 * (e.g. reading the GDT or IDT, at any CPL).
 */
export const enum Mode {
  User = 0,
  Supervisor = 1,
  ImplicitSupervisor = 2,
}

export function accessName(a: Access): string {
  return a === Access.Write ? "write" : a === Access.Exec ? "exec" : "read";
}

export function parseAccess(text: string): Access | null {
  switch (text) {
    case "read":
    case "r":
      return Access.Read;
    case "write":
    case "w":
      return Access.Write;
    case "exec":
    case "x":
    case "fetch":
      return Access.Exec;
    default:
      return null;
  }
}
