/** The command-line size (base/size.ts: the web's trace form reads sizes the same way). */
export { parseSize } from "../../base/size.ts";
