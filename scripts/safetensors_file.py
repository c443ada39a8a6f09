"""Float32 safetensors files for the build-time Python scripts (fixtures, exported weights, the
fidelity harness): one writer and one reader, so that every script writes the same layout.

    import sys, os; sys.path.insert(0, <this folder>)
    from safetensors_file import write_safetensors, read_safetensors
"""

import json
import os

import numpy as np


def write_safetensors(path, tensors, metadata=None):
    """Writes {name: array-like} as an F32 safetensors file, through a temp file and a rename.

    Values may be numpy arrays or torch tensors (detached to CPU). `metadata` values are
    written as strings, as the format requires."""
    header = {}
    if metadata:
        header['__metadata__'] = {k: str(v) for k, v in metadata.items()}
    blobs, offset = [], 0
    for name, value in tensors.items():
        if hasattr(value, 'detach'):
            value = value.detach().cpu().contiguous().numpy()
        arr = np.ascontiguousarray(value, dtype='<f4')
        header[name] = {'dtype': 'F32', 'shape': list(arr.shape), 'data_offsets': [offset, offset + arr.nbytes]}
        blobs.append(arr.tobytes())
        offset += arr.nbytes
    text = json.dumps(header).encode('utf-8')
    text += b' ' * (-len(text) % 8)
    tmp = f'{path}.{os.getpid()}.tmp'
    with open(tmp, 'wb') as f:
        f.write(len(text).to_bytes(8, 'little'))
        f.write(text)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)


def read_safetensors(path):
    """{name: np.ndarray float32} of an F32 safetensors file."""
    with open(path, 'rb') as f:
        n = int.from_bytes(f.read(8), 'little')
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, info in header.items():
        if name == '__metadata__':
            continue
        if info['dtype'] != 'F32':
            raise ValueError(f'{path}: tensor {name} has dtype {info["dtype"]}, expected F32')
        a, b = info['data_offsets']
        out[name] = np.frombuffer(data[a:b], dtype='<f4').reshape(info['shape'])
    return out
