/**
 * Compiles the WebAssembly kernels of kernels/ (AssemblyScript) into the TypeScript modules that carry them
 * (base64), so that the policy loads them with the rest of its code and no build step runs on install:
 *
 *   npx tsx scripts/build-kernels.ts          # writes src/agent/policy/batched-product-wasm.ts
 *
 * test/agent/policy/batched-product.test.ts compiles the source again and fails when the module is stale.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import asc from 'assemblyscript/asc';

const SOURCE = fileURLToPath(new URL('../kernels/batched-product.ts', import.meta.url));
const MODULE = fileURLToPath(new URL('../src/agent/policy/batched-product-wasm.ts', import.meta.url));

/** The kernel's WebAssembly binary: optimised, SIMD, no runtime, the memory imported from the caller. */
export async function compileBatchedProduct(): Promise<Uint8Array> {
  const result = await asc.compileString(
    { 'batched-product.ts': await readFile(SOURCE, 'utf8') },
    { optimizeLevel: 3, shrinkLevel: 0, runtime: 'stub', importMemory: true, enable: ['simd'], noAssert: true },
  );
  if (result.error || !result.binary) throw new Error(`asc: ${result.error?.message}\n${result.stderr.toString()}`);
  return result.binary;
}

/** The module's text for a binary. */
export function kernelModule(binary: Uint8Array): string {
  return `// Generated from kernels/batched-product.ts by scripts/build-kernels.ts: do not edit, run \`npx tsx scripts/build-kernels.ts\`.
/** The batched product kernel's WebAssembly binary, base64 (see batched-product.ts). */
export const BATCHED_PRODUCT_WASM =
  '${Buffer.from(binary).toString('base64')}';
`;
}

if (process.argv[1]?.endsWith('build-kernels.ts')) {
  await writeFile(MODULE, kernelModule(await compileBatchedProduct()));
  console.log(`wrote ${MODULE}`);
}
