#!/usr/bin/python3
"""Golden fixture for ckaad's Adam update (test/training/adam-pytorch.test.ts):
torch.optim.Adam as the CKAAD authors' code builds it (betas (0.5, 0.999), PyTorch's default
eps 1e-8), three steps on small parameters whose gradients span 1e-10 … 1 — the range where
Adam's ε decides how far a weight moves (its first update is lr·g/(|g| + ε)).

Parameters and gradients come from a closed-form formula and are stored with the results
(24 values each). Developer tool only (never a runtime or CI dependency); Debian's
python3-torch suffices:

    /usr/bin/python3 scripts/make-adam-fixtures.py

Writes test/fixtures/training/adam.json: float32 values written with 9 significant digits
(exact for float32).
"""

import json
import os

import numpy as np
import torch

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'test', 'fixtures', 'training', 'adam.json')
N = 24
LR = 1e-2
STEPS = 3


def initial():
    """p_i = sin(i + 1), float32."""
    return np.sin(np.arange(N, dtype=np.float64) + 1).astype(np.float32)


def gradient(step):
    """g_i = (−1)^(i+step) · 10^(−(i mod 12) + (step − 1) / 4) · (1 + i / 100): magnitudes 1 … 1e-11."""
    i = np.arange(N, dtype=np.float64)
    sign = np.where((i + step) % 2 == 0, 1.0, -1.0)
    return (sign * 10.0 ** (-(i % 12) + (step - 1) / 4) * (1 + i / 100)).astype(np.float32)


def main():
    p = torch.nn.Parameter(torch.from_numpy(initial()))
    opt = torch.optim.Adam([p], lr=LR, betas=(0.5, 0.999))
    after = []
    for step in range(1, STEPS + 1):
        opt.zero_grad()
        p.grad = torch.from_numpy(gradient(step))
        opt.step()
        after.append([float(f'{v:.9g}') for v in p.detach().numpy()])
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, 'w') as f:
        json.dump({
            'source': f'torch {torch.__version__} torch.optim.Adam(lr={LR}, betas=(0.5, 0.999)) (eps default 1e-8); scripts/make-adam-fixtures.py',
            'lr': LR,
            'initial': [float(f'{v:.9g}') for v in initial()],
            'gradients': [[float(f'{v:.9g}') for v in gradient(s)] for s in range(1, STEPS + 1)],
            'after': after,
        }, f, indent=1)
        f.write('\n')
    print(f'wrote {OUT}')


if __name__ == '__main__':
    main()
