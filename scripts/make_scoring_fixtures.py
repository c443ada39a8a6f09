#!/usr/bin/python3
"""Golden fixtures for ckaad's scoring functions (test/fixtures/scoring/*.json).

Computes, with the same library calls as the CKAAD authors' evaluation code
(util/test.py: cal_anomaly_map + torch.topk):
  gaussian.json  scipy.ndimage.gaussian_filter of small float32 maps;
  pipeline.json  per-layer 1 - F.cosine_similarity over channels, F.interpolate(bilinear,
                 align_corners=True) to the image size, sum over layers, gaussian_filter(sigma=4)
                 per image, and the top-k / mean image scores.

Developer tool only (never a runtime or CI dependency). Needs Debian's python3-numpy,
python3-scipy and python3-torch:
    apt-get install -y python3-scipy python3-torch
    /usr/bin/python3 scripts/make_scoring_fixtures.py
Inputs are rounded to 4 decimals so the fixtures stay small; every array is float32,
row-major, written with 9 significant digits (exact for float32).
"""

import json
import os

import numpy as np
import scipy
import scipy.ndimage
import torch
import torch.nn.functional as F

OUT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'test', 'fixtures', 'scoring')


def f32(values):
    """float32 array → list of floats with 9 significant digits (round-trips float32)."""
    return [float('%.9g' % v) for v in np.asarray(values, dtype=np.float32).reshape(-1)]


def rounded(values):
    """Inputs: round to 4 decimals, then float32 (the TS side parses the same float32)."""
    return np.round(np.asarray(values, dtype=np.float64), 4).astype(np.float32)


def blob_map(rng, height, width):
    """Anomaly-map-like input: noise plus a bright off-centre blob near one border."""
    yy, xx = np.mgrid[0:height, 0:width]
    cy, cx = rng.uniform(0, height), rng.uniform(0, width)
    blob = 1.5 * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * (0.15 * max(height, width)) ** 2))
    return rounded(0.3 * rng.random((height, width)) + blob)


def gaussian_cases(rng):
    specs = [
        ('20x24 noise', rounded(rng.random((20, 24))), 4.0, 4.0),
        ('20x24 blob', blob_map(rng, 20, 24), 4.0, 4.0),
        ('64x64 blob', blob_map(rng, 64, 64), 4.0, 4.0),
        ('5x7 smaller than the radius', rounded(rng.random((5, 7))), 4.0, 4.0),
        ('1x9 single row', rounded(rng.random((1, 9))), 4.0, 4.0),
        ('20x24 sigma 2 truncate 3', rounded(rng.random((20, 24))), 2.0, 3.0),
        ('12x10 sigma 1.3', rounded(rng.random((12, 10))), 1.3, 4.0),
    ]
    cases = []
    for name, x, sigma, truncate in specs:
        y = scipy.ndimage.gaussian_filter(x, sigma=sigma, truncate=truncate)
        # The authors filter a [1, H, W] slice: the singleton axis must not change anything.
        y3 = scipy.ndimage.gaussian_filter(x[None], sigma=sigma, truncate=truncate)[0]
        assert np.array_equal(y, y3), name
        assert y.dtype == np.float32
        cases.append({
            'name': name, 'sigma': sigma, 'truncate': truncate,
            'height': x.shape[0], 'width': x.shape[1],
            'input': f32(x), 'expected': f32(y),
        })
    return cases


def cal_anomaly_map(fs_list, ft_list, out_size):
    """The authors' cal_anomaly_map(amap_mode='add'), out_size an int or (H, W)."""
    size = out_size if isinstance(out_size, tuple) else (out_size, out_size)
    anomaly_map = torch.zeros([fs_list[0].size(0), 1, *size])
    for fs, ft in zip(fs_list, ft_list):
        a_map = 1 - F.cosine_similarity(fs, ft)  # [N, h, w], cosine over channels (dim 1)
        a_map = torch.unsqueeze(a_map, dim=1)
        a_map = F.interpolate(a_map, size=out_size, mode='bilinear', align_corners=True)
        anomaly_map += a_map
    raw = anomaly_map.numpy()
    smooth = np.vstack([scipy.ndimage.gaussian_filter(raw[i], sigma=4) for i in range(len(raw))])
    return raw[:, 0], smooth


def pipeline_case(rng, name, out_size, layer_shapes, top_ks):
    """layer_shapes: NCHW shapes of the feature maps."""
    features, reconstructions = [], []
    for shape in layer_shapes:
        f = rounded(np.maximum(rng.normal(size=shape) + 0.3, 0.0))  # ReLU-like features
        r = rounded(f + 0.6 * rng.normal(size=shape))  # imperfect reconstruction
        features.append(f)
        reconstructions.append(r)
    features[0][0, :, 0, 0] = 0.0  # an all-zero feature vector (cosine eps path: map = 1)
    ft = [torch.from_numpy(f) for f in features]
    rt = [torch.from_numpy(r) for r in reconstructions]
    raw, smooth = cal_anomaly_map(ft, rt, out_size)
    n = raw.shape[0]
    scores = {}
    for k in top_ks:
        flat = torch.from_numpy(smooth.reshape(n, -1))
        scores[str(k)] = f32(torch.topk(flat, k, dim=-1)[0].numpy().mean(axis=-1))
    scores['mean'] = f32(smooth.reshape(n, -1).mean(axis=-1))  # the code's ISIC2018 score
    to_nhwc = lambda a: f32(np.transpose(a, (0, 2, 3, 1)))
    return {
        'name': name,
        'height': raw.shape[1], 'width': raw.shape[2],
        'layers': [
            {'shape': [s[0], s[2], s[3], s[1]], 'features': to_nhwc(f), 'reconstructions': to_nhwc(r)}
            for s, f, r in zip(layer_shapes, features, reconstructions)
        ],
        'maps': f32(raw), 'smoothed': f32(smooth), 'scores': scores,
    }


def main():
    rng = np.random.default_rng(20250101)
    versions = {'numpy': np.__version__, 'scipy': scipy.__version__, 'torch': torch.__version__}
    gaussian = {
        'generator': 'scripts/make_scoring_fixtures.py', 'versions': versions,
        'note': 'scipy.ndimage.gaussian_filter(input, sigma, truncate=truncate), mode reflect, float32',
        'cases': gaussian_cases(rng),
    }
    pipeline = {
        'generator': 'scripts/make_scoring_fixtures.py', 'versions': versions,
        'note': "authors' cal_anomaly_map(amap_mode='add') + gaussian_filter(sigma=4) + torch.topk; "
                'features / reconstructions are NHWC here (NCHW in torch)',
        'cases': [
            pipeline_case(rng, 'non-square 20x24 from 5x6 and 3x3 maps', (20, 24),
                          [(2, 8, 5, 6), (2, 16, 3, 3)], [1, 7, 100]),
            pipeline_case(rng, 'square 32x32 from 8x8 and 4x4 maps', 32,
                          [(2, 8, 8, 8), (2, 16, 4, 4)], [1, 100, 1024]),
        ],
    }
    os.makedirs(OUT_DIR, exist_ok=True)
    for name, data in [('gaussian.json', gaussian), ('pipeline.json', pipeline)]:
        path = os.path.join(OUT_DIR, name)
        with open(path, 'w') as fh:
            json.dump(data, fh, separators=(',', ':'))
            fh.write('\n')
        print(f'{path}: {os.path.getsize(path)} bytes')


if __name__ == '__main__':
    main()
