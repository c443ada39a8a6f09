/** Drawing for the page: the live loss curves and the heat maps. */

/** One step's three losses. */
export interface LossPoint {
  lRec: number;
  lAdv: number;
  lD: number;
}

const SERIES: Array<{ key: keyof LossPoint; label: string; color: string }> = [
  { key: 'lRec', label: 'L_rec', color: '#2962c8' },
  { key: 'lAdv', label: 'L_adv', color: '#c62828' },
  { key: 'lD', label: 'L_D', color: '#2e7d32' },
];

/**
 * Draws the losses of every step so far on `canvas`: one line per loss, each scaled to its own
 * range (their magnitudes differ by orders), with the last value in the legend.
 */
export function drawLosses(canvas: HTMLCanvasElement, points: readonly LossPoint[], totalSteps: number): void {
  const g = canvas.getContext('2d');
  if (g === null) return;
  const { width, height } = canvas;
  const pad = { left: 8, right: 8, top: 24, bottom: 16 };
  g.clearRect(0, 0, width, height);
  g.font = '12px system-ui, sans-serif';
  g.strokeStyle = '#d8dde3';
  g.strokeRect(pad.left, pad.top, width - pad.left - pad.right, height - pad.top - pad.bottom);
  g.fillStyle = '#5d6876';
  g.fillText(`step ${points.length} of ${totalSteps}   (each curve scaled to its own range)`, pad.left, height - 3);
  let x0 = pad.left;
  for (const { key, label, color } of SERIES) {
    const values = points.map((p) => p[key]);
    const last = values.length > 0 ? values[values.length - 1] : NaN;
    const text = `${label} ${Number.isFinite(last) ? last.toPrecision(4) : '–'}`;
    g.fillStyle = color;
    g.fillRect(x0, 8, 10, 3);
    g.fillText(text, x0 + 14, 14);
    x0 += g.measureText(text).width + 34;
    if (values.length === 0) continue;
    const lo = Math.min(...values);
    const hi = Math.max(...values);
    const span = hi - lo || 1;
    const w = width - pad.left - pad.right;
    const h = height - pad.top - pad.bottom;
    g.strokeStyle = color;
    g.lineWidth = 1.5;
    g.beginPath();
    values.forEach((v, i) => {
      const x = pad.left + (totalSteps <= 1 ? w / 2 : (i / (totalSteps - 1)) * w);
      const y = pad.top + h - ((v - lo) / span) * h * 0.9 - h * 0.05;
      if (i === 0) g.moveTo(x, y);
      else g.lineTo(x, y);
    });
    g.stroke();
  }
}

/** Colour of a heat-map value in [0, 1]: dark blue → cyan → yellow → red. */
export function heatColor(t: number): [number, number, number] {
  const stops: Array<[number, number, number]> = [
    [20, 30, 110],
    [20, 170, 210],
    [250, 220, 40],
    [215, 25, 28],
  ];
  const x = Math.min(1, Math.max(0, t)) * (stops.length - 1);
  const i = Math.min(stops.length - 2, Math.floor(x));
  const f = x - i;
  const [a, b] = [stops[i], stops[i + 1]];
  return [a[0] + (b[0] - a[0]) * f, a[1] + (b[1] - a[1]) * f, a[2] + (b[2] - a[2]) * f];
}

/**
 * The RGBA pixels of one picture: the image itself, the heat map alone, or the heat map blended
 * over the image. The map is scaled from `range` (the smallest and largest value over all test
 * images, so the colours compare across images) to [0, 1].
 */
export function compose(image: Uint8ClampedArray, map: Float32Array, range: readonly [number, number], mode: 'image' | 'map' | 'overlay'): ImageData {
  const n = map.length;
  const out = new Uint8ClampedArray(n * 4);
  const [lo, hi] = range;
  const span = hi > lo ? hi - lo : 1;
  for (let i = 0; i < n; i++) {
    const [r, g, b] = heatColor((map[i] - lo) / span);
    const [ir, ig, ib] = [image[4 * i], image[4 * i + 1], image[4 * i + 2]];
    const mix = mode === 'image' ? 0 : mode === 'map' ? 1 : 0.5;
    out[4 * i] = ir + (r - ir) * mix;
    out[4 * i + 1] = ig + (g - ig) * mix;
    out[4 * i + 2] = ib + (b - ib) * mix;
    out[4 * i + 3] = 255;
  }
  const side = Math.round(Math.sqrt(n));
  return new ImageData(out, side, side);
}
