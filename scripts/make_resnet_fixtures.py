#!/usr/bin/python3
"""Reference outputs of torchvision ResNets for test/backbone/parity.test.ts and
test/backbone/preprocess.test.ts.

Run with Debian's python3-torch / python3-torchvision (a developer tool only; never a
runtime or CI dependency):

    /usr/bin/python3 scripts/make_resnet_fixtures.py

Weights and inputs are given by a closed-form integer hash that the TypeScript test
recomputes bit for bit, so the (large) weights are never committed; only the small
feature maps are. For tensor number t (its index in torchvision's state_dict order,
skipping num_batches_tracked and fc.*) and flat element index i (row-major, PyTorch layout):

    x = (i + (t + 1) * 0x9E3779B9) mod 2^32
    x ^= x >> 16; x = x * 0x7FEB352D mod 2^32; x ^= x >> 15; x = x * 0x846CA68B mod 2^32; x ^= x >> 16
    u = x / 2^32                                    (uniform in [0, 1), exact in float64)

    conv weight [O, I, k, k]   sqrt(6 / (I k k)) * (2u - 1)   (kaiming-uniform scale)
    bn weight                  1 + 0.25 * (2u - 1)
    bn bias, running_mean      0.1 * (2u - 1)
    running_var                0.5 + u
    input [2, 64, 64, 3] NHWC  1.5 * (2u - 1) with t = 1000

Every value is computed in float64 and rounded once to float32. (A sin(a*i + b) formula
would make each weight matrix rank 2, by the angle-addition identity, and let channel-mixing
bugs through; the hash gives full-rank weights.)

Writes test/fixtures/resnet/{resnet18,wide_resnet50_2,preprocess}.safetensors.
"""

import json
import math
import os
import struct

import numpy as np
import torch
import torch.nn.functional as F
import torchvision
import sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from safetensors_file import write_safetensors  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'test', 'fixtures', 'resnet')
INPUT_TENSOR_INDEX = 1000
M32 = 0xFFFFFFFF


def hash_uniform(t, n):
    """u in [0, 1) for elements 0..n-1 of tensor number t (float64, exact)."""
    x = (np.arange(n, dtype=np.uint64) + np.uint64(((t + 1) * 0x9E3779B9) & M32)) & np.uint64(M32)
    x = x.astype(np.uint32)
    x ^= x >> np.uint32(16)
    x = x * np.uint32(0x7FEB352D)
    x ^= x >> np.uint32(15)
    x = x * np.uint32(0x846CA68B)
    x ^= x >> np.uint32(16)
    return x.astype(np.float64) / 4294967296.0


def formula(name, shape, t):
    n = int(np.prod(shape))
    u = hash_uniform(t, n)
    if name.endswith('running_var'):
        v = 0.5 + u
    elif name.endswith('running_mean') or (name.endswith('bias')):
        v = 0.1 * (2.0 * u - 1.0)
    elif len(shape) == 4:
        fan_in = shape[1] * shape[2] * shape[3]
        v = math.sqrt(6.0 / fan_in) * (2.0 * u - 1.0)
    else:
        v = 1.0 + 0.25 * (2.0 * u - 1.0)
    return v.astype(np.float32).reshape(shape)


def rel_l2(a, b):
    return float(np.linalg.norm((a - b).ravel()) / np.linalg.norm(b.ravel()))


def make_model(arch):
    model = getattr(torchvision.models, arch)(weights=None).eval()
    sd = model.state_dict()
    names = [k for k in sd if not k.endswith('num_batches_tracked') and not k.startswith('fc.')]
    with torch.no_grad():
        for t, name in enumerate(names):
            sd[name].copy_(torch.from_numpy(formula(name, tuple(sd[name].shape), t)))
    return model, names


def forward_layers(model, x):
    outs = {}
    with torch.no_grad():
        y = model.maxpool(model.relu(model.bn1(model.conv1(x))))
        for k in range(1, 5):
            y = getattr(model, f'layer{k}')(y)
            outs[f'layer{k}'] = y
    return outs


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.manual_seed(0)
    shape = (2, 64, 64, 3)
    x_nhwc = (1.5 * (2.0 * hash_uniform(INPUT_TENSOR_INDEX, int(np.prod(shape))) - 1.0)).astype(np.float32).reshape(shape)
    x = torch.from_numpy(x_nhwc).permute(0, 3, 1, 2).contiguous()

    for arch in ['resnet18', 'wide_resnet50_2']:
        model, names = make_model(arch)
        outs = forward_layers(model, x)
        outs64 = forward_layers(model.double(), x.double())
        tensors = {'input': x_nhwc} if arch == 'resnet18' else {}
        for k, v in outs.items():
            nhwc = v.permute(0, 2, 3, 1).contiguous().numpy()
            ref = outs64[k].permute(0, 2, 3, 1).numpy()
            print(f'{arch} {k} {list(nhwc.shape)} std {nhwc.std():.4g} frac>0 {np.mean(nhwc > 0):.3f}'
                  f' | torch float32 vs float64 rel L2 {rel_l2(nhwc.astype(np.float64), ref):.2e}')
            tensors[k] = nhwc
        write_safetensors(os.path.join(OUT, f'{arch}.safetensors'), tensors, {
            'arch': arch,
            'torch': torch.__version__,
            'torchvision': torchvision.__version__,
            'param_names': json.dumps(names),
            'generator': 'scripts/make_resnet_fixtures.py',
        })

    # Preprocessing: uint8-valued images → bilinear (align_corners=False) 8×8 → /255 → ImageNet normalisation.
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    pre = {}
    for key, shp, t in [('rgb', (2, 13, 5, 3), 2000), ('gray', (1, 3, 9, 1), 2001)]:
        img = np.floor(hash_uniform(t, int(np.prod(shp))) * 256).astype(np.float32).reshape(shp)
        chw = torch.from_numpy(img).permute(0, 3, 1, 2)
        y = F.interpolate(chw, size=(8, 8), mode='bilinear', align_corners=False) / 255.0
        if shp[3] == 1:
            y = y.repeat(1, 3, 1, 1)
        y = (y - mean) / std
        pre[f'{key}_in'] = img
        pre[f'{key}_out'] = y.permute(0, 2, 3, 1).contiguous().numpy()
    write_safetensors(os.path.join(OUT, 'preprocess.safetensors'), pre, {'torch': torch.__version__, 'size': '8'})


if __name__ == '__main__':
    main()
