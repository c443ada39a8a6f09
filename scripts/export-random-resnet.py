#!/usr/bin/python3
"""Writes torchvision's randomly initialised ResNet (weights=None under torch.manual_seed(seed))
as a safetensors file with torchvision's parameter names, for ckaad's `model.weights` and for
the authors' code in the fidelity harness (scripts/fidelity/reference.py --backbone), so that
both run on the very same frozen backbone.

    /usr/bin/python3 scripts/export-random-resnet.py weights/resnet18-random-seed0.safetensors
    /usr/bin/python3 scripts/export-random-resnet.py --arch wide_resnet50_2 --seed 1 OUT

Float tensors only (the BatchNorm step counters `num_batches_tracked` are left out; ckaad
ignores them). Debian's python3-torch / python3-torchvision suffice; a developer tool, never a
runtime dependency. torchvision 0.14 draws the same numbers on every machine for a seed, so
the file is reproducible and need not be committed (weights/*.safetensors is ignored).
"""

import argparse
import hashlib
import json
import os

import numpy as np
import torch
import torchvision
import sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from safetensors_file import write_safetensors  # noqa: E402


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('out', help='output .safetensors path (its folder must exist)')
    p.add_argument('--arch', default='resnet18', choices=['resnet18', 'resnet34', 'resnet50', 'resnet101', 'wide_resnet50_2', 'wide_resnet101_2'])
    p.add_argument('--seed', type=int, default=0)
    a = p.parse_args()
    torch.manual_seed(a.seed)
    net = getattr(torchvision.models, a.arch)(weights=None)
    tensors = {k: v.detach().numpy() for k, v in net.state_dict().items() if v.is_floating_point()}
    write_safetensors(a.out, tensors, {
        'source': f'torchvision {torchvision.__version__} {a.arch}(weights=None) after torch.manual_seed({a.seed})',
        'torch': torch.__version__,
    })
    with open(a.out, 'rb') as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    print(f'{a.out}: {len(tensors)} tensors, sha256 {digest}')


if __name__ == '__main__':
    main()
