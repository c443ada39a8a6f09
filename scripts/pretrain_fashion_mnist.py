"""Train torchvision's ResNet-18 to classify Fashion-MNIST and save it as model.safetensors.

A stand-in for ImageNet weights where none can be downloaded: a backbone whose filters were
learnt on real images, for experiments on data that is NOT Fashion-MNIST (the synthetic
defect set). Never use it for the Fashion-MNIST experiments themselves: it has seen every
class's labels.

    /usr/bin/python3 scripts/pretrain_fashion_mnist.py /usr/share/datasets/fashion-mnist weights/resnet18-fashion-mnist.safetensors

Images: 28x28 grey, zero-padded to 32x32, repeated to 3 channels, normalised with the ImageNet
mean/std (as ckaad's preprocessing does). SGD with momentum, 2 epochs, batch 128, seed 0.
The file holds torchvision's state_dict names (BatchNorm running statistics included; `fc.*`
and `num_batches_tracked` are ignored by ckaad's loader). Prints the test accuracy.
Build-time tooling only (Debian's python3-torch / python3-torchvision), not a dependency.
"""

import gzip
import json
import os
import struct
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
import torchvision
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from safetensors_file import write_safetensors  # noqa: E402

MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)


def read_idx(path):
    with gzip.open(path, "rb") if path.endswith(".gz") else open(path, "rb") as f:
        data = f.read()
    dims = data[3]
    shape = struct.unpack(">" + "I" * dims, data[4 : 4 + 4 * dims])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def to_input(images):
    x = np.pad(images.astype(np.float32) / 255.0, ((0, 0), (2, 2), (2, 2)))  # 32x32
    x = np.repeat(x[:, None, :, :], 3, axis=1)
    x = (x - MEAN[None, :, None, None]) / STD[None, :, None, None]
    return torch.from_numpy(np.ascontiguousarray(x))


def main(root, out, epochs=2):
    torch.manual_seed(0)
    torch.set_num_threads(1)
    train_x = to_input(read_idx(os.path.join(root, "train-images-idx3-ubyte.gz")))
    train_y = torch.from_numpy(read_idx(os.path.join(root, "train-labels-idx1-ubyte.gz")).astype(np.int64))
    test_x = to_input(read_idx(os.path.join(root, "t10k-images-idx3-ubyte.gz")))
    test_y = torch.from_numpy(read_idx(os.path.join(root, "t10k-labels-idx1-ubyte.gz")).astype(np.int64))
    model = torchvision.models.resnet18(num_classes=10)
    steps = epochs * (len(train_x) // 128)
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.05, total_steps=steps)
    start = time.time()
    for epoch in range(epochs):
        model.train()
        order = torch.randperm(len(train_x))
        for i in range(len(train_x) // 128):
            idx = order[i * 128 : (i + 1) * 128]
            x = train_x[idx]
            flip = torch.rand(len(idx)) < 0.5
            x[flip] = x[flip].flip(3)
            loss = F.cross_entropy(model(x), train_y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
        print(f"epoch {epoch + 1}: last loss {loss.item():.4f} ({time.time() - start:.0f} s)", flush=True)
    model.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(test_x), 500):
            correct += (model(test_x[i : i + 500]).argmax(1) == test_y[i : i + 500]).sum().item()
    print(f"test accuracy {correct / len(test_x):.4f} ({time.time() - start:.0f} s)")
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    write_safetensors(out, dict(model.state_dict()))
    print(f"wrote {out}")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
