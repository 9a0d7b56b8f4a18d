// AssemblyScript source of the batched matrix product the policy's attention runs on the wasm backend
// (src/agent/policy/batched-product.ts). `npx tsx scripts/build-kernels.ts` compiles it into
// src/agent/policy/batched-product-wasm.ts; a test checks that the two agree.
//
// C[c] = A[c] x B[c] for each of `channels` row-major float32 matrices A [m, k], B [k, n], C [m, n] at byte
// offsets a, b, c of the memory. Tiles of 4 rows x 8 columns of C are summed in eight SIMD registers over k
// (each step: two loads of B's row, four broadcasts of A's column, eight multiply-adds), the rows beyond the
// last multiple of 4 in tiles of 1 x 8 (a decoding step's one query row), and the columns beyond the last
// multiple of 8 one by one.

export function batchedProduct(a: usize, b: usize, c: usize, channels: i32, m: i32, k: i32, n: i32): void {
  const aStride = (<usize>m * <usize>k) << 2;
  const bStride = (<usize>k * <usize>n) << 2;
  const cStride = (<usize>m * <usize>n) << 2;
  for (let channel = 0; channel < channels; channel++) {
    const at = <usize>channel;
    product(a + at * aStride, b + at * bStride, c + at * cStride, m, k, n);
  }
}

function product(a: usize, b: usize, c: usize, m: i32, k: i32, n: i32): void {
  const n8 = n & ~7;
  const m4 = m & ~3;
  const rowA = (<usize>k) << 2;
  const rowC = (<usize>n) << 2;
  for (let i = 0; i < m4; i += 4) {
    const a0 = a + <usize>i * rowA;
    const a1 = a0 + rowA;
    const a2 = a1 + rowA;
    const a3 = a2 + rowA;
    for (let j = 0; j < n8; j += 8) {
      let c00 = f32x4.splat(0);
      let c01 = f32x4.splat(0);
      let c10 = f32x4.splat(0);
      let c11 = f32x4.splat(0);
      let c20 = f32x4.splat(0);
      let c21 = f32x4.splat(0);
      let c30 = f32x4.splat(0);
      let c31 = f32x4.splat(0);
      let row = b + ((<usize>j) << 2);
      for (let p = 0; p < k; p++) {
        const b0 = v128.load(row);
        const b1 = v128.load(row, 16);
        const at = (<usize>p) << 2;
        const x0 = f32x4.splat(load<f32>(a0 + at));
        const x1 = f32x4.splat(load<f32>(a1 + at));
        const x2 = f32x4.splat(load<f32>(a2 + at));
        const x3 = f32x4.splat(load<f32>(a3 + at));
        c00 = f32x4.add(c00, f32x4.mul(x0, b0));
        c01 = f32x4.add(c01, f32x4.mul(x0, b1));
        c10 = f32x4.add(c10, f32x4.mul(x1, b0));
        c11 = f32x4.add(c11, f32x4.mul(x1, b1));
        c20 = f32x4.add(c20, f32x4.mul(x2, b0));
        c21 = f32x4.add(c21, f32x4.mul(x2, b1));
        c30 = f32x4.add(c30, f32x4.mul(x3, b0));
        c31 = f32x4.add(c31, f32x4.mul(x3, b1));
        row += rowC;
      }
      const out = c + <usize>i * rowC + ((<usize>j) << 2);
      v128.store(out, c00);
      v128.store(out, c01, 16);
      v128.store(out + rowC, c10);
      v128.store(out + rowC, c11, 16);
      v128.store(out + 2 * rowC, c20);
      v128.store(out + 2 * rowC, c21, 16);
      v128.store(out + 3 * rowC, c30);
      v128.store(out + 3 * rowC, c31, 16);
    }
    for (let r = 0; r < 4; r++) columns(a + <usize>(i + r) * rowA, b, c + <usize>(i + r) * rowC, k, n, n8);
  }
  for (let i = m4; i < m; i++) {
    const a0 = a + <usize>i * rowA;
    for (let j = 0; j < n8; j += 8) {
      let c00 = f32x4.splat(0);
      let c01 = f32x4.splat(0);
      let row = b + ((<usize>j) << 2);
      for (let p = 0; p < k; p++) {
        const x0 = f32x4.splat(load<f32>(a0 + ((<usize>p) << 2)));
        c00 = f32x4.add(c00, f32x4.mul(x0, v128.load(row)));
        c01 = f32x4.add(c01, f32x4.mul(x0, v128.load(row, 16)));
        row += rowC;
      }
      const out = c + <usize>i * rowC + ((<usize>j) << 2);
      v128.store(out, c00);
      v128.store(out, c01, 16);
    }
    columns(a0, b, c + <usize>i * rowC, k, n, n8);
  }
}

// Columns from..n-1 of one row of C, one at a time.
function columns(a: usize, b: usize, c: usize, k: i32, n: i32, from: i32): void {
  for (let j = from; j < n; j++) {
    let sum: f32 = 0;
    for (let p = 0; p < k; p++) {
      sum += load<f32>(a + ((<usize>p) << 2)) * load<f32>(b + ((<usize>p * <usize>n + <usize>j) << 2));
    }
    store<f32>(c + ((<usize>j) << 2), sum);
  }
}
