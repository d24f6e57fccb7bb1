/** The parts of the wasm module a guarded allocation uses: its raw exports, its allocator entry and its heap. */
export interface WasmAllocator {
  asm: { malloc: (bytes: number) => number };
  _malloc: (bytes: number) => number;
  HEAPU8: Uint8Array;
}

const MIB = 2 ** 20;

/**
 * Makes a failed allocation on the wasm heap throw. tfjs-backend-wasm stores whatever `_malloc` returns, and on a full
 * heap (wasm's 4 GiB) that is 0: the tensor then lies at address 0, over the module's own data, which aborted the
 * single-threaded build and left the threaded one computing on corrupted memory without end.
 */
export function guardWasmAllocations(module: WasmAllocator): void {
  const malloc = module.asm.malloc; // the export itself: `_malloc` is a wrapper that replaces itself on first use
  module._malloc = (bytes: number): number => {
    const address = malloc(bytes);
    if (address === 0 && bytes > 0) {
      throw new Error(
        `wasm heap full: could not allocate ${(bytes / MIB).toFixed(1)} MiB on a heap grown to ${(module.HEAPU8.length / MIB).toFixed(0)} MiB ` +
        `(WebAssembly's limit is 4096 MiB); lower training.batchSize and raise training.gradientAccumulationSteps to keep the ` +
        'effective batch, or build the native add-on (docs/performance.md), whose steps need less',
      );
    }
    return address;
  };
}
