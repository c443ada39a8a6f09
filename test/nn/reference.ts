/** Naive loop implementations of PyTorch's layers on NHWC arrays, for tests. */

/** Conv2d as PyTorch computes it (zero padding `pad` on every side), weight HWIO. */
export function naiveConv2d(
  x: Float32Array, [n, h, w, c]: number[],
  wt: Float32Array, [k, , , o]: number[],
  stride: number, pad: number,
): { data: Float32Array; shape: number[] } {
  const oh = Math.floor((h + 2 * pad - k) / stride) + 1;
  const ow = Math.floor((w + 2 * pad - k) / stride) + 1;
  const out = new Float32Array(n * oh * ow * o);
  for (let b = 0; b < n; b++)
    for (let i = 0; i < oh; i++)
      for (let j = 0; j < ow; j++)
        for (let oc = 0; oc < o; oc++) {
          let s = 0;
          for (let a = 0; a < k; a++)
            for (let bb = 0; bb < k; bb++) {
              const y = i * stride + a - pad;
              const xx = j * stride + bb - pad;
              if (y < 0 || y >= h || xx < 0 || xx >= w) continue;
              for (let ic = 0; ic < c; ic++) s += x[((b * h + y) * w + xx) * c + ic] * wt[((a * k + bb) * c + ic) * o + oc];
            }
          out[((b * oh + i) * ow + j) * o + oc] = s;
        }
  return { data: out, shape: [n, oh, ow, o] };
}

/** ConvTranspose2d (no padding) as PyTorch computes it, weight [k, k, out, in]. */
export function naiveConvTranspose2d(
  x: Float32Array, [n, h, w, c]: number[],
  wt: Float32Array, [k, , o]: number[],
  stride: number,
): { data: Float32Array; shape: number[] } {
  const oh = (h - 1) * stride + k;
  const ow = (w - 1) * stride + k;
  const out = new Float32Array(n * oh * ow * o);
  for (let b = 0; b < n; b++)
    for (let i = 0; i < h; i++)
      for (let j = 0; j < w; j++)
        for (let a = 0; a < k; a++)
          for (let bb = 0; bb < k; bb++)
            for (let oc = 0; oc < o; oc++) {
              let s = 0;
              for (let ic = 0; ic < c; ic++) s += x[((b * h + i) * w + j) * c + ic] * wt[((a * k + bb) * o + oc) * c + ic];
              out[((b * oh + i * stride + a) * ow + j * stride + bb) * o + oc] += s;
            }
  return { data: out, shape: [n, oh, ow, o] };
}

/** Element-wise closeness check returning the largest absolute difference. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}
