/**
 * The browser build's stand-in for workloads/trace/formats.ts (which reads
 * files through node:fs, node:zlib and worker threads): the format names
 * the scenario checker needs. vite.config.ts redirects the import here.
 */
export type TraceFormat = "bin" | "lackey" | "text" | "refs";
export const TRACE_FORMATS: readonly TraceFormat[] = ["bin", "lackey", "text", "refs"];
