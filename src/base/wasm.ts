/**
 * The few pieces of the WebAssembly JavaScript API vmlab uses (its
 * generated modules: docs/wasm.md), typed here because the project's
 * TypeScript libraries (es2022 without the DOM) declare none. Present in
 * Node and in browsers; `wasmApi()` is null where it is not.
 */
export interface WasmMemory {
  readonly buffer: ArrayBuffer | SharedArrayBuffer;
}
export interface WasmApi {
  Memory: new (d: { initial: number; maximum?: number; shared?: boolean }) => WasmMemory;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (m: object, imports: object) => { exports: Record<string, unknown> };
}

/** The runtime's WebAssembly, or null. */
export function wasmApi(): WasmApi | null {
  const w = (globalThis as { WebAssembly?: WasmApi }).WebAssembly;
  return typeof w === "object" && w !== null ? w : null;
}

/**
 * Bytes from base64 text (the generated modules' embedding): Node's Buffer
 * where there is one (its decoder is native: the loop below, not yet
 * compiled when a run starts, took 1-5 ms of it), else decoded here.
 */
export function fromBase64(text: string): Uint8Array {
  const B = (globalThis as { Buffer?: { from(s: string, enc: "base64"): Uint8Array } }).Buffer;
  if (B !== undefined && text.length % 4 === 0 && /^[A-Za-z0-9+/]*={0,2}$/.test(text)) {
    const b = B.from(text, "base64");
    return new Uint8Array(b.buffer, b.byteOffset, b.length);
  }
  const ABC = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  const body = text.replace(/=+$/, "");
  const out = new Uint8Array(Math.floor((body.length * 3) / 4));
  let acc = 0;
  let bits = 0;
  let n = 0;
  for (let i = 0; i < body.length; i++) {
    const v = ABC.indexOf(body[i]);
    if (v < 0) throw new Error(`fromBase64: '${body[i]}' is not base64`);
    acc = ((acc << 6) | v) & 0xffffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[n++] = (acc >>> bits) & 255;
    }
  }
  return out;
}

/**
 * Instantiates a module whose only import is its memory (`env.memory`), as
 * the generated modules are built; its exports.
 */
export function instantiate(bytes: Uint8Array, memory: WasmMemory): Record<string, unknown> {
  const w = wasmApi();
  if (w === null) throw new Error("no WebAssembly in this runtime");
  return new w.Instance(new w.Module(bytes), { env: { memory } }).exports;
}
