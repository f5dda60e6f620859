/**
 * Python's optparse as the homework scripts use it (CPython 3.11
 * Lib/optparse.py): OptionParser with the default usage "%prog [options]",
 * the automatic -h/--help, store / store_true actions, types "int" and
 * "string"; short options grouped (-cs5), long options abbreviated
 * (--se 5) or with =, "--" ending the options, interspersed arguments. The
 * help text is IndentedHelpFormatter's, with $COLUMNS as optparse reads it.
 * Errors print the usage and "PROG: error: MESSAGE" to stderr and exit 2.
 */
import { PyExit, type PyOut, type PyValue, pyInt, pyRepr, textwrapWrap } from "./python.ts";

/** One add_option(...) call. */
export interface PyOption {
  /** "-s" */
  short?: string;
  /** "--seed" */
  long?: string;
  dest: string;
  /** store with type int or string, or store_true */
  kind: "int" | "string" | "true";
  default: PyValue;
  help: string;
}

export interface OptparseIo {
  out: PyOut;
  err: PyOut;
  /** the COLUMNS environment variable, as optparse's HelpFormatter reads it */
  columns?: string;
}

type Action = PyOption | "help";

const HELP: PyOption = {
  short: "-h",
  long: "--help",
  dest: "help",
  kind: "true",
  default: false,
  help: "show this help message and exit",
};

/**
 * parser.parse_args(argv): the options' values by dest (defaults first) and
 * the positional arguments. Throws PyExit after -h (0) or an error (2).
 */
export function parseArgs(
  prog: string,
  options: readonly PyOption[],
  argv: readonly string[],
  io: OptparseIo,
): { values: Record<string, PyValue>; args: string[] } {
  const all = [HELP, ...options];
  const shortOpts = new Map<string, Action>();
  const longOpts = new Map<string, Action>();
  for (const o of all) {
    const act: Action = o === HELP ? "help" : o;
    if (o.short) shortOpts.set(o.short, act);
    if (o.long) longOpts.set(o.long, act);
  }
  const values: Record<string, PyValue> = {};
  for (const o of options) values[o.dest] = o.default;
  const error = (msg: string): never => {
    io.err.print(`Usage: ${prog} [options]\n`);
    io.err.write(`${prog}: error: ${msg}\n`);
    throw new PyExit(2);
  };
  const process = (act: Action, opt: string, value: string | null): void => {
    if (act === "help") {
      io.out.write(formatHelp(prog, all, io.columns));
      throw new PyExit(0);
    }
    if (act.kind === "true") values[act.dest] = true;
    else if (act.kind === "string") values[act.dest] = value!;
    else values[act.dest] = parseNum(value!, opt, error);
  };

  const rargs = [...argv];
  const largs: string[] = [];
  while (rargs.length > 0) {
    const arg = rargs[0];
    if (arg === "--") {
      rargs.shift();
      break;
    }
    if (arg.startsWith("--")) {
      // _process_long_opt
      rargs.shift();
      let opt = arg;
      let explicit = false;
      const eq = arg.indexOf("=");
      if (eq >= 0) {
        opt = arg.slice(0, eq);
        rargs.unshift(arg.slice(eq + 1));
        explicit = true;
      }
      opt = matchAbbrev(opt, [...longOpts.keys()], error);
      const act = longOpts.get(opt)!;
      let value: string | null = null;
      if (act !== "help" && act.kind !== "true") {
        if (rargs.length < 1) error(`${opt} option requires 1 argument`);
        value = rargs.shift()!;
      } else if (explicit) error(`${opt} option does not take a value`);
      process(act, opt, value);
    } else if (arg.startsWith("-") && arg.length > 1) {
      // _process_short_opts
      rargs.shift();
      const chars = [...arg.slice(1)];
      let i = 1;
      for (const ch of chars) {
        const opt = `-${ch}`;
        const act = shortOpts.get(opt);
        i += ch.length;
        if (!act) error(`no such option: ${opt}`);
        let value: string | null = null;
        let stop = false;
        if (act !== "help" && act!.kind !== "true") {
          if (i < arg.length) {
            rargs.unshift(arg.slice(i));
            stop = true;
          }
          if (rargs.length < 1) error(`${opt} option requires 1 argument`);
          value = rargs.shift()!;
        }
        process(act!, opt, value);
        if (stop) break;
      }
    } else {
      largs.push(arg);
      rargs.shift();
    }
  }
  return { values, args: [...largs, ...rargs] };
}

/** _match_abbrev: the long option a prefix names, or the error optparse gives. */
function matchAbbrev(s: string, words: string[], error: (m: string) => never): string {
  if (words.includes(s)) return s;
  const hits = words.filter((w) => w.startsWith(s));
  if (hits.length === 1) return hits[0];
  if (hits.length === 0) return error(`no such option: ${s}`);
  // Python sorts str by code point, as JS's default sort does for these ASCII names
  hits.sort();
  return error(`ambiguous option: ${s} (${hits.join(", ")}?)`);
}

/** _parse_num(val, int): 0x hexadecimal, 0b binary, a leading 0 octal, else decimal. */
function parseNum(val: string, opt: string, error: (m: string) => never): bigint {
  let radix = 10;
  let v = val;
  const p = val.slice(0, 2).toLowerCase();
  if (p === "0x") radix = 16;
  else if (p === "0b") {
    radix = 2;
    v = val.slice(2) || "0";
  } else if (val.startsWith("0")) radix = 8;
  try {
    return pyInt(v, radix);
  } catch {
    return error(`option ${opt}: invalid integer value: ${pyRepr(val)}`);
  }
}

/** parser.format_help() with IndentedHelpFormatter(indent_increment=2, max_help_position=24). */
function formatHelp(prog: string, options: readonly PyOption[], columns: string | undefined): string {
  let width = 80;
  if (columns !== undefined) {
    try {
      width = Number(pyInt(columns));
    } catch {
      width = 80;
    }
  }
  width -= 2;
  const maxHelpPosition = Math.min(24, Math.max(width - 20, 4));
  const strings = options.map((o) => {
    const metavar = o.dest.toUpperCase();
    const parts: string[] = [];
    if (o.short) parts.push(o.kind === "true" ? o.short : `${o.short} ${metavar}`);
    if (o.long) parts.push(o.kind === "true" ? o.long : `${o.long}=${metavar}`);
    return parts.join(", ");
  });
  const indent = 2;
  const maxLen = Math.max(...strings.map((s) => s.length + indent));
  const helpPosition = Math.min(maxLen + 2, maxHelpPosition);
  const helpWidth = Math.max(width - helpPosition, 11);
  const out: string[] = [`Usage: ${prog} [options]\n\n`, "Options:\n"];
  options.forEach((o, n) => {
    const optWidth = helpPosition - indent - 2;
    let opts = strings[n];
    let indentFirst: number;
    if (opts.length > optWidth) {
      out.push(`${" ".repeat(indent)}${opts}\n`);
      indentFirst = helpPosition;
    } else {
      opts = `${" ".repeat(indent)}${opts.padEnd(optWidth)}  `;
      out.push(opts);
      indentFirst = 0;
    }
    const lines = textwrapWrap(o.help, helpWidth);
    out.push(`${" ".repeat(indentFirst)}${lines[0]}\n`);
    for (const line of lines.slice(1)) out.push(`${" ".repeat(helpPosition)}${line}\n`);
  });
  return out.join("");
}
