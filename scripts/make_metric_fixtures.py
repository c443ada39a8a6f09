#!/usr/bin/env python3
"""Golden fixtures for test/metrics/*.test.ts.

Reference values come from scikit-learn (roc_auc_score, precision_recall_curve, auc), scipy
(ndimage.label with a 3x3 structuring element = 8-connectivity) and independent NumPy
implementations written here from the published definitions:

  * AUPRO, MVTec AD definition: a brute-force PRO curve (one point per distinct score,
    prediction = score >= t) integrated with the trapezoid rule up to the FPR limit;
  * AUPRO as the official MVTec AD script computes it (cumulative sums over the sorted
    scores, FPRs stored as float32, bisect + interpolation at the limit);
  * the CKAAD authors' per-image PRO (np.arange sweep of 200 steps per anomalous image,
    FPR < limit kept, FPR divided by its maximum, sklearn's auc), with their float32 maps.

The two AUPRO implementations are cross-checked here before anything is written.

Developer tool only (not a runtime or CI dependency). Run with Debian's Python:
    apt-get install -y python3-sklearn python3-scipy
    /usr/bin/python3 scripts/make_metric_fixtures.py
Writes test/fixtures/metrics/image_metrics.json and pixel_metrics.json.
"""

import json
import os
import statistics
from bisect import bisect

import numpy as np
from scipy import ndimage
from sklearn.metrics import auc, precision_recall_curve, roc_auc_score

OUT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'test', 'fixtures', 'metrics')
EIGHT = np.ones((3, 3), dtype=int)


def f32_list(values):
    """Float32 values as the shortest decimals that round back to them (JS: Math.fround)."""
    out = []
    for v in np.asarray(values, dtype=np.float32).ravel():
        d = float(np.format_float_positional(v, unique=True, trim='-'))
        assert np.float32(d) == v
        out.append(d)
    return out


def f64_list(values):
    return [float(v) for v in np.asarray(values, dtype=np.float64).ravel()]


def mask_string(mask):
    return ''.join('1' if v else '0' for v in np.asarray(mask).ravel())


# --------------------------------------------------------------------------- image level

def authors_best_f1(labels, scores):
    """F1 / ACC exactly as the authors' calculate_metrics does it."""
    precision, recall, thresholds = precision_recall_curve(labels, scores)
    f1 = 2 * (precision * recall) / (precision + recall + 1e-16)
    best = int(np.argmax(f1))
    threshold = thresholds[best]
    pred = np.where(scores >= threshold, 1, 0)
    tp = np.sum((pred == 1) & (labels == 1))
    tn = np.sum((pred == 0) & (labels == 0))
    fp = np.sum((pred == 1) & (labels == 0))
    fn = np.sum((pred == 0) & (labels == 1))
    return {
        'f1': float(np.max(f1)),
        'threshold': float(threshold),
        'precision': float(precision[best]),
        'recall': float(recall[best]),
        'accuracy': float((tp + tn) / (tp + tn + fp + fn)),
    }


def image_case(name, labels, scores, with_curve):
    labels = np.asarray(labels, dtype=np.int64)
    is32 = scores.dtype == np.float32
    enc = f32_list if is32 else f64_list
    case = {
        'name': name,
        'dtype': 'float32' if is32 else 'float64',
        'labels': [int(v) for v in labels],
        'scores': enc(scores),
        'auroc': float(roc_auc_score(labels, scores)),
        'best': authors_best_f1(labels, scores),
    }
    if is32:
        case['best']['threshold'] = enc([case['best']['threshold']])[0]
    if with_curve:
        p, r, t = precision_recall_curve(labels, scores)
        case['curve'] = {'precision': f64_list(p), 'recall': f64_list(r), 'thresholds': enc(t)}
    return case


def image_cases(rng):
    cases = []
    y = (rng.random(40) < 0.4).astype(np.int64)
    s = rng.integers(0, 8, 40) / 8 + 0.25 * y
    cases.append(image_case('small_ties_float64', y, s, True))

    y = (rng.random(300) < 0.3).astype(np.int64)
    s = np.round(rng.normal(size=300) + 0.8 * y, 2).astype(np.float32)
    cases.append(image_case('float32_ties', y, s, True))

    y = (rng.random(1000) < 0.08).astype(np.int64)
    s = rng.normal(size=1000) * 3.7 + 1.2 * y - 0.5
    cases.append(image_case('imbalanced_float64', y, s, False))

    y = np.array([0, 1] * 5)
    s = np.full(10, 0.5)
    cases.append(image_case('all_scores_tied', y, s, True))

    y = np.array([1, 1, 1, 0, 0, 1, 0, 1])
    s = np.array([-2.0, 0.0, 3.5, -1.0, 0.0, 7.25, -3.0, 1e-300])
    cases.append(image_case('negative_and_tiny', y, s, True))
    return cases


# --------------------------------------------------------------------------- pixel level

def blob(h, w, cy, cx, ry, rx):
    yy, xx = np.mgrid[0:h, 0:w]
    return ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1.0


def make_masks(h, w):
    masks = np.zeros((8, h, w), dtype=np.uint8)
    masks[1][blob(h, w, 8, 10, 4, 6)] = 1                       # one ellipse
    masks[2][blob(h, w, 4, 4, 2.5, 2.5)] = 1                    # two blobs ...
    masks[2][blob(h, w, 12, 18, 3, 4)] = 1
    masks[2][15, 2] = 1                                         # ... and a diagonal pair:
    masks[2][16, 3] = 1                                         # one region with 8-conn
    for y, x in [(1, 1), (5, 20), (10, 12), (16, 22), (17, 0)]:  # isolated pixels
        masks[3][y, x] = 1
    masks[4][blob(h, w, 0, 23, 7, 9)] = 1                       # touches two borders
    ring = blob(h, w, 9, 12, 6, 7) & ~blob(h, w, 9, 12, 3, 4)   # region with a hole
    masks[6][ring] = 1
    for i in range(14):                                         # thin diagonal line
        masks[7][2 + i, 3 + i] = 1
    return masks


def make_maps(rng, masks, sigma_noise, quantum):
    maps = []
    for mk in masks:
        noise = ndimage.gaussian_filter(rng.normal(size=mk.shape), 1.5)
        signal = ndimage.gaussian_filter(mk.astype(np.float64), 1.0)
        m = noise * sigma_noise + 1.5 * signal
        maps.append(np.round(m / quantum) * quantum)
    return np.stack(maps)


def regions_of(masks):
    labels = np.zeros(masks.shape, dtype=np.int64)
    counts = []
    for i, mk in enumerate(masks):
        lab, n = ndimage.label(mk, EIGHT)
        labels[i] = lab
        counts.append(int(n))
    return labels, counts


def aupro_definition(maps, masks, limit):
    """Brute force: the PRO curve point by point, then the trapezoid area up to `limit`."""
    labels, counts = regions_of(masks)
    scores = maps.astype(np.float64).ravel()
    normal = masks.ravel() == 0
    region_pixels = []
    for i, n in enumerate(counts):
        base = i * masks[0].size
        for k in range(1, n + 1):
            region_pixels.append(base + np.flatnonzero(labels[i].ravel() == k))
    xs, ys = [0.0], [0.0]
    for t in np.unique(scores)[::-1]:
        pred = scores >= t
        xs.append(pred[normal].sum() / normal.sum())
        ys.append(np.mean([pred[idx].mean() for idx in region_pixels]))
    xs.append(1.0)
    ys.append(1.0)
    area = 0.0
    for j in range(len(xs) - 1):
        x0, y0, x1, y1 = xs[j], ys[j], xs[j + 1], ys[j + 1]
        if x0 >= limit:
            break
        if x1 <= limit:
            area += (x1 - x0) * (y0 + y1) / 2
        else:
            y_lim = y0 + (y1 - y0) * (limit - x0) / (x1 - x0)
            area += (limit - x0) * (y0 + y_lim) / 2
            break
    return area / limit


def aupro_official(maps, masks, limit, fpr_float32):
    """The official script's procedure: cumulative sums over scores sorted descending."""
    labels, counts = regions_of(masks)
    fp_change = (labels == 0).astype(np.uint32).ravel()
    pro_change = np.zeros(labels.shape, dtype=np.float64)
    for i, n in enumerate(counts):
        for k in range(1, n + 1):
            sel = labels[i] == k
            pro_change[i][sel] = 1.0 / sel.sum()
    pro_change = pro_change.ravel()
    scores = maps.ravel()
    order = np.argsort(scores, kind='stable')[::-1]
    s = scores[order]
    fp_cum = np.cumsum(fp_change[order])
    if fpr_float32:
        fprs = fp_cum.astype(np.float32)
        np.divide(fprs, int(fp_change.sum()), out=fprs)
    else:
        fprs = fp_cum / fp_change.sum()
    pros = np.cumsum(pro_change[order]) / sum(counts)
    last_of_tie = np.append(np.diff(s) != 0, True)
    x = np.concatenate(([0.0], np.minimum(fprs[last_of_tie], 1.0), [1.0]))
    y = np.concatenate(([0.0], np.minimum(pros[last_of_tie], 1.0), [1.0]))
    extra = 0.0
    if limit not in x:
        at = bisect(x, limit)
        y_lim = y[at - 1] + ((y[at] - y[at - 1]) * (limit - x[at - 1]) / (x[at] - x[at - 1]))
        extra = 0.5 * (y_lim + y[at - 1]) * (limit - x[at - 1])
    keep = x <= limit
    x, y = x[keep], y[keep]
    return float((np.sum(0.5 * (y[1:] + y[:-1]) * (x[1:] - x[:-1])) + extra) / limit)


def authors_per_image_pro(maps, masks, num_th=200, limit=0.3, wrong=None):
    """The CKAAD authors' per-image PRO, mean over anomalous images (their maps are float32;
    a float64 map runs the same code in float64). `wrong` selects a deliberately wrong variant,
    used only to check that a fixture exercises the float32 details: 'all64' (no float32
    rounding anywhere) or 'range64' (max - min not rounded to float32)."""
    values, indices = [], []
    for i, (amap, mask) in enumerate(zip(maps, masks)):
        if mask.max() == 0:
            continue
        lab, n = ndimage.label(mask, EIGHT)
        inverse = 1 - mask.astype(int)
        if wrong == 'all64':
            amap = amap.astype(np.float64)
        mn, mx = amap.min(), amap.max()
        if wrong == 'range64':
            mn, mx = float(mn), float(mx)
        delta = (mx - mn) / num_th
        rows = []
        for th in np.arange(mn, mx, delta):
            binary = amap > th   # NumPy 1.x: a float32 map compares in float32
            overlaps = [binary[lab == k].sum() / (lab == k).sum() for k in range(1, n + 1)]
            fpr = np.logical_and(inverse, binary).sum() / inverse.sum()
            rows.append((fpr, statistics.mean(overlaps)))
        kept = [(f, p) for f, p in rows if f < limit]
        f = np.array([r[0] for r in kept])
        p = np.array([r[1] for r in kept])
        values.append(float(auc(f / f.max(), p)))
        indices.append(i)
    return float(np.mean(values)), values, indices


def pixel_dataset(name, maps, masks, limits, per_image):
    is32 = maps.dtype == np.float32
    labels, counts = regions_of(masks)
    d = {
        'name': name,
        'dtype': 'float32' if is32 else 'float64',
        'height': int(masks.shape[1]),
        'width': int(masks.shape[2]),
        'maps': [(f32_list if is32 else f64_list)(m) for m in maps],
        'masks': [mask_string(m) for m in masks],
        'regionCounts': counts,
        'regionLabels': [''.join(chr(48 + int(v)) for v in lab.ravel()) for lab in labels],
        'pixelAuroc': float(roc_auc_score(masks.ravel(), maps.ravel())),
        'aupro': {},
        'auproOfficialFloat32Fpr': {},
    }
    assert max(counts) < 10  # one digit per pixel in regionLabels
    for limit in limits:
        ref = aupro_definition(maps, masks, limit)
        check = aupro_official(maps, masks, limit, fpr_float32=False)
        assert abs(ref - check) < 1e-12, (name, limit, ref, check)
        d['aupro'][str(limit)] = ref
        d['auproOfficialFloat32Fpr'][str(limit)] = aupro_official(maps, masks, limit, fpr_float32=True)
    if per_image:
        mean, values, indices = authors_per_image_pro(maps, masks)
        d['perImagePro'] = {'pro': mean, 'perImage': values, 'imageIndices': indices}
    return d


def main():
    rng = np.random.default_rng(20250217)
    image = {'cases': image_cases(rng)}

    h, w = 18, 24  # not square: catches swapped height / width
    masks = make_masks(h, w)
    maps32 = make_maps(rng, masks, 0.6, 1 / 128).astype(np.float32)
    fine = pixel_dataset('blobs_float32', maps32, masks, [0.3, 0.05, 0.25, 0.5, 1.0], True)

    coarse_masks = masks[[1, 0, 3, 7]][:, ::2, ::2][:, :9, :12].copy()
    coarse_maps = np.clip(np.round(make_maps(rng, coarse_masks, 0.8, 0.1), 1), -1.0, 2.0)
    coarse = pixel_dataset('coarse_ties_float64', coarse_maps, coarse_masks, [0.3, 0.1, 1.0], True)

    perfect_maps = (masks.astype(np.float32) * 0.5 + 0.25).astype(np.float32)
    perfect = pixel_dataset('perfect_float32', perfect_maps, masks, [0.3], False)

    # Levels on the authors' own threshold grid, with a range that float32 rounds (so that
    # np.arange gives 201 thresholds, 200 without the rounding): here their float32
    # arithmetic (rounded range, threshold rounded at each comparison) matters.
    grid_masks = masks[[1, 2, 3, 6]][:, :12, :18].copy()
    lo, hi = np.float32(0.07207980751991272), np.float32(0.9743247032165527)
    step = float(np.float32(hi - lo)) / 200
    levels = rng.integers(0, 201, grid_masks.shape) + 40 * grid_masks
    grid = (float(lo) + np.minimum(levels, 200) * step).astype(np.float32)
    grid[:, 0, 0], grid[:, 0, 1] = lo, hi
    grid_set = pixel_dataset('grid_float32', grid, grid_masks, [0.3], True)
    for variant in ['all64', 'range64']:
        off, _, _ = authors_per_image_pro(grid, grid_masks, wrong=variant)
        assert abs(off - grid_set['perImagePro']['pro']) > 1e-6, f'fixture does not exercise {variant}'

    pixel = {'datasets': [fine, coarse, perfect, grid_set]}
    os.makedirs(OUT_DIR, exist_ok=True)
    for fname, payload in [('image_metrics.json', image), ('pixel_metrics.json', pixel)]:
        path = os.path.join(OUT_DIR, fname)
        with open(path, 'w') as f:
            json.dump(payload, f, separators=(',', ':'))
            f.write('\n')
        print(f'wrote {os.path.normpath(path)} ({os.path.getsize(path)} bytes)')


if __name__ == '__main__':
    main()
