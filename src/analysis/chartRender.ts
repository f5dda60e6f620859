/**
 * The CLI's chart files from a Vega-Lite specification (chartSpec.ts), with
 * no DOM and no browser: vega-lite compiles it to Vega, a vega View with
 * renderer "none" draws it as SVG (View.toSVG), resvg (a native module from
 * the registry) turns the SVG into PNG, and the HTML page is the SVG inline
 * (no script, no CDN). vega and vega-lite are loaded on first use, so that
 * commands without --chart do not pay for them.
 */
import { createRequire } from "node:module";
import type { TopLevelSpec } from "./chartSpec.ts";

const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

/** The specification drawn as SVG; vega-lite's warnings (a spec it had to change) are errors. */
export async function toSvg(spec: TopLevelSpec): Promise<string> {
  const [vega, vl] = await Promise.all([import("vega"), import("vega-lite")]);
  const warnings: string[] = [];
  const logger = {
    level: () => logger,
    error: (...a: unknown[]) => void warnings.push(a.join(" ")),
    warn: (...a: unknown[]) => void warnings.push(a.join(" ")),
    info: () => logger,
    debug: () => logger,
  };
  const compiled = vl.compile(spec, { logger: logger as never }).spec;
  if (warnings.length > 0) throw new Error(`vega-lite: ${warnings.join("; ")}`);
  const view = new vega.View(vega.parse(compiled), { renderer: "none" });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

export function toPng(svg: string): Buffer {
  const { Resvg } = createRequire(import.meta.url)("@resvg/resvg-js") as {
    Resvg: new (svg: string, opts?: object) => { render(): { asPng(): Buffer } };
  };
  return new Resvg(svg, { font: { loadSystemFonts: true }, background: "white" }).render().asPng();
}

export function toHtml(svg: string, title: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title></head>
<body style="font-family: sans-serif">
<h1 style="font-size: 18px">${esc(title)}</h1>
${svg}
</body></html>
`;
}

/** The file --chart writes, by its extension (.svg, .png or .html, already checked). */
export async function chartFile(spec: TopLevelSpec, ext: string, title: string): Promise<string | Buffer> {
  const svg = await toSvg(spec);
  return ext === ".png" ? toPng(svg) : ext === ".html" ? toHtml(svg, title) : svg;
}
