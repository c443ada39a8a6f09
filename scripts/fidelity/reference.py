#!/usr/bin/python3
"""Python side of ckaad's differential harness against the authors' code (docs/fidelity.md).

Runs the authors' own training function (`train` of main.py in a checkout of
Faustinaqq/CKAAD, imported at run time from the path given with --reference; nothing of it is
copied here) on Fashion-MNIST, and records what ckaad's side (replay.ts) needs to redo the
same computation and compare:

  run/init/autoencoder.safetensors      the auto-encoder's initial weights, in ckaad's
  run/init/discriminator.safetensors    parameter names and tfjs layouts (conv HWIO,
                                        transposed conv [kh, kw, out, in])
  run/split.json                        Fashion-MNIST indices of the normal training images,
                                        the labelled anomalies, the validation split
  run/steps.jsonl                       per step: IDX indices of the normal and anomaly
                                        batch, L_rec, every discriminator loss term, L_D,
                                        L_adv, the auto-encoder loss, gradient norms
  run/step-<k>.safetensors              (steps k <= --dump-steps) features, reconstructions,
                                        preprocessed inputs (step 1), the auto-encoder's
                                        gradients and every parameter after the step's Adam
                                        updates, ckaad layouts (NHWC)
  run/epochs.jsonl                      per epoch (--eval): mean losses, the authors'
                                        validation and test metrics, wall time
  run/scores-<split>-<epoch>.f32        per-image scores of the authors' evaluation
  run/run.json                          the settings, the reference commit, torch versions

The authors' code reads Fashion-MNIST nowhere; it is fed through its CIFAR-10 code path (the
only torchvision data set it handles), with a stand-in class that reads the IDX files and
hands each image to the authors' transform as an RGB PIL image (grey replicated, since their
ImageNet normalisation needs three channels). The backbone is torchvision's resnet18 built as
in their code and then loaded from --backbone (weights=None under torch.manual_seed(seed),
written by scripts/export_random_resnet.py), so both sides use the same frozen weights.
Instrumentation wraps functions and records their results; it changes no computation.

Debian's python3-torch 1.13 / python3-torchvision 0.14 (the versions the authors pin) is
enough; modules the authors import only for MVTec / plotting (cv2, skimage, pandas, tqdm) are
replaced by empty stand-ins when they are not installed. A developer tool only: never a
runtime dependency of ckaad.

    /usr/bin/python3 scripts/fidelity/reference.py run --reference /work/ref/CKAAD \\
        --backbone weights/resnet18-random-seed0.safetensors --arm recon --steps 20 --out /tmp/fid/recon
    /usr/bin/python3 scripts/fidelity/reference.py run ... --arm ckapatch --epochs 3 --eval --out /tmp/fid/ckapatch-3ep
    /usr/bin/python3 scripts/fidelity/reference.py score ... --weights W.safetensors --out DIR
"""

import argparse
import gzip
import itertools
import json
import os
import subprocess
import sys
import time
import types

import numpy as np
import torch
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from safetensors_file import read_safetensors, write_safetensors  # noqa: E402

GAMMA = 0.5  # the authors' fixed γ (main.py)


# ---------------------------------------------------------------------------------------
# safetensors (float32 only) and IDX


def read_idx(path):
    opener = gzip.open if path.endswith('.gz') else open
    with opener(path, 'rb') as f:
        raw = f.read()
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], 'big') for i in range(ndim)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def find_idx(data_dir, base):
    for name in (base, base + '.gz'):
        p = os.path.join(data_dir, name)
        if os.path.exists(p):
            return p
    raise FileNotFoundError(f'--data {data_dir}: neither {base} nor {base}.gz')


# ---------------------------------------------------------------------------------------
# layouts: PyTorch modules <-> ckaad parameter maps


def to_ckaad(state):
    """PyTorch state_dict → ckaad names/layouts: 4-D weights (Conv2d [O, I, kh, kw] and
    ConvTranspose2d [I, O, kh, kw]) become [kh, kw, I, O] and [kh, kw, O, I]; the same
    permutation (2, 3, 1, 0) does both. Everything else (instance-norm affine) is 1-D."""
    out = {}
    for name, t in state.items():
        a = t.detach().cpu().float().numpy()
        out[name] = a.transpose(2, 3, 1, 0) if a.ndim == 4 else a
    return out


def from_ckaad(tensors):
    return {name: torch.from_numpy(np.ascontiguousarray(a.transpose(3, 2, 0, 1) if a.ndim == 4 else a)) for name, a in tensors.items()}


def discriminator_state(d):
    # The authors' patch-level discriminator also allocates positional embeddings that its
    # forward never reads (no gradient, never updated); ckaad does not have them.
    return {k: v for k, v in d.state_dict().items() if not k.startswith('positional_embeds')}


def nhwc(t):
    return t.detach().cpu().float().numpy().transpose(0, 2, 3, 1)


# ---------------------------------------------------------------------------------------
# loading the authors' code


def stub_missing(names):
    """Empty stand-ins for modules the authors import but the semantic path never uses."""
    for name in names:
        try:
            __import__(name)
        except ImportError:
            parts = name.split('.')
            for i in range(1, len(parts) + 1):
                mod = '.'.join(parts[:i])
                if mod not in sys.modules:
                    sys.modules[mod] = types.ModuleType(mod)
                if i > 1:
                    setattr(sys.modules['.'.join(parts[:i - 1])], parts[i - 1], sys.modules[mod])
    tq = sys.modules.get('tqdm')
    if tq is not None and not hasattr(tq, 'tqdm'):
        tq.tqdm = lambda it, *a, **k: it


def load_reference(path):
    sys.dont_write_bytecode = True  # leave the checkout as it is (no __pycache__ from us)
    if not os.path.exists(os.path.join(path, 'main.py')) or not os.path.exists(os.path.join(path, 'model', 'model.py')):
        raise SystemExit(f'--reference {path}: not a checkout of Faustinaqq/CKAAD (main.py, model/model.py missing)')
    stub_missing(['cv2', 'skimage.measure', 'pandas', 'tqdm'])
    sys.path.insert(0, os.path.abspath(path))
    import main as ref_main  # noqa: E402  (the authors' main.py; its __main__ block does not run)
    import model.model as ref_model
    import dataset.dataset as ref_dataset
    import util.test as ref_test
    try:
        commit = subprocess.run(['git', '-C', path, 'rev-parse', 'HEAD'], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        commit = 'unknown'
    return types.SimpleNamespace(main=ref_main, model=ref_model, dataset=ref_dataset, test=ref_test, commit=commit, path=os.path.abspath(path))


class Recorder:
    """What the instrumentation collected, and where it writes."""

    def __init__(self, out, dump_steps, max_steps):
        self.out = out
        self.dump_steps = dump_steps
        self.max_steps = max_steps
        self.step = 0
        self.epoch_step = 0
        self.epoch = 1
        self.in_eval = False
        self.optimizers = []
        self.ae = None
        self.d = None
        self.reset()
        self.epoch_values = []
        self.eval_results = []
        self.epoch_started = time.time()
        self.steps_file = open(os.path.join(out, 'steps.jsonl'), 'w') if out else None

    def reset(self):
        self.normal_idx = None
        self.anomaly_idx = None
        self.l_rec = None
        self.d_calls = []
        self.d_grad_norm = None
        self.ae_grad_norm = None
        self.inputs = []
        self.features = []
        self.recon = []
        self.ae_grads = {}

    def dumping(self):
        return self.out is not None and self.step + 1 <= self.dump_steps


class StopRun(Exception):
    pass


def grad_norm(params):
    grads = [p.grad.detach().double() for p in params if p.grad is not None]
    return float(torch.sqrt(sum((g * g).sum() for g in grads))) if grads else 0.0


def instrument(ref, rec, data_dir, backbone_file, init_weights=None, float64=False):
    """Wraps the authors' functions so that `train(args)` records into `rec`. With `float64`
    every network (backbone, auto-encoder, discriminator) and the images are cast to float64
    after their float32 initialisation: the same run in double precision, the yardstick of
    what float32 rounding alone does to the trajectory."""
    main, model, dataset, test = ref.main, ref.model, ref.dataset, ref.test

    # --- data: Fashion-MNIST through the authors' CIFAR-10 path --------------------------
    pixels = {
        True: read_idx(find_idx(data_dir, 'train-images-idx3-ubyte')),
        False: read_idx(find_idx(data_dir, 't10k-images-idx3-ubyte')),
    }
    labels = {
        True: read_idx(find_idx(data_dir, 'train-labels-idx1-ubyte')),
        False: read_idx(find_idx(data_dir, 't10k-labels-idx1-ubyte')),
    }
    from PIL import Image

    class FashionMnist:
        """Stands in for torchvision's CIFAR10: `.data` holds IDX indices (the authors only
        ever index it), `__getitem__` gives the transformed RGB image, the label and — for
        the training sets only, which the loop reads by position [0] — the IDX index."""

        def __init__(self, root, train=True, download=False, transform=None):
            self.train = train
            self.data = np.arange(len(labels[train]), dtype=np.int64)
            self.targets = [int(v) for v in labels[train]]
            self.transform = transform
            self.role = None

        def __len__(self):
            return len(self.data)

        def __getitem__(self, i):
            index = int(self.data[i])
            img = Image.fromarray(pixels[self.train][index], mode='L').convert('RGB')
            x = self.transform(img)
            if self.role == 'train':
                return x, int(self.targets[i]), index
            return x, int(self.targets[i])

    dataset.datasets = types.SimpleNamespace(CIFAR10=FashionMnist)

    class RecordingLoader:
        def __init__(self, loader):
            self.loader = loader

        def __len__(self):
            return len(self.loader)

        def __iter__(self):
            for batch in self.loader:
                rec.normal_idx = batch[2].tolist()
                yield batch

    original_loaders = dataset.OODDataSet.get_data_loader

    def get_data_loader(self, batch_size=64):
        for part in (self.train_dataset, self.anomaly_dataset):
            if part is not None:
                part.role = 'train'
        if rec.out is not None:
            split = {
                'normal': [int(i) for i in self.train_dataset.data],
                'anomalies': [] if self.anomaly_dataset is None else [int(i) for i in self.anomaly_dataset.data],
                'validation': [int(i) for i in self.valid_dataset.data],
                'validationTargets': [int(t) for t in self.valid_dataset.targets],
                'test': len(self.test_dataset),
            }
            with open(os.path.join(rec.out, 'split.json'), 'w') as f:
                json.dump(split, f)
        train, valid, anomaly, test_loader = original_loaders(self, batch_size=batch_size)
        return RecordingLoader(train), valid, anomaly, test_loader

    dataset.OODDataSet.get_data_loader = get_data_loader
    main.OODDataSet = dataset.OODDataSet

    def recording_cycle(iterable):
        for item in itertools.cycle(iterable):
            rec.anomaly_idx = None if item is None else item[2].tolist()
            yield item

    main.cycle = recording_cycle

    # --- backbone: torchvision's resnet18 as the authors build it, then the shared weights --
    state = {k: torch.from_numpy(v.copy()) for k, v in read_safetensors(backbone_file).items()}
    import torchvision

    def resnet18(weights=None):
        net = torchvision.models.resnet18(weights=None)  # the same draws as the authors' call
        missing, unexpected = net.load_state_dict(state, strict=False)
        missing = [k for k in missing if not k.endswith('num_batches_tracked') and not k.startswith('fc.')]
        if missing or unexpected:
            raise SystemExit(f'--backbone {backbone_file}: missing {missing}, unexpected {unexpected}')
        return net.double() if float64 else net

    model.models = types.SimpleNamespace(resnet18=resnet18, ResNet18_Weights=types.SimpleNamespace(DEFAULT=None))

    pfe_forward = model.PretrainedFeatureExtractor.forward

    def pfe(self, x):
        out = pfe_forward(self, x.double() if float64 else x)
        if not rec.in_eval and rec.dumping():
            rec.inputs.append(x.detach().clone())
            rec.features.append([o.detach().clone() for o in out])
        return out

    model.PretrainedFeatureExtractor.forward = pfe

    ed_forward = model.ED.forward

    def ed(self, x):
        out = ed_forward(self, x)
        if not rec.in_eval and rec.dumping():
            rec.recon.append([o.detach().clone() for o in out])
        return out

    model.ED.forward = ed

    # --- the networks: record them (and optionally replace their initial weights) --------
    ED, Discriminator = main.ED, main.Discriminator

    def make_ed(*a, **k):
        net = ED(*a, **k)
        if init_weights is not None:
            weights = read_safetensors(init_weights)
            if any(k.startswith('ae.') for k in weights):  # a step-<k>.safetensors dump
                weights = {k[3:]: v for k, v in weights.items() if k.startswith('ae.')}
            net.load_state_dict(from_ckaad(weights), strict=True)
        if float64:
            net.double()
        rec.ae = net
        if rec.out is not None:
            os.makedirs(os.path.join(rec.out, 'init'), exist_ok=True)
            write_safetensors(os.path.join(rec.out, 'init', 'autoencoder.safetensors'), to_ckaad(net.state_dict()))
        return net

    def make_d(*a, **k):
        net = Discriminator(*a, **k)
        if float64:
            net.double()
        rec.d = net
        if rec.out is not None:
            write_safetensors(os.path.join(rec.out, 'init', 'discriminator.safetensors'), to_ckaad(discriminator_state(net)))
        return net

    main.ED, main.Discriminator = make_ed, make_d

    # --- losses and optimiser steps ------------------------------------------------------
    loss_function = main.loss_function

    def recording_loss(a, b):
        value = loss_function(a, b)
        rec.l_rec = value.item()
        return value

    main.loss_function = recording_loss

    calculate_loss = Discriminator.calculate_loss

    def recording_d_loss(self, x, label_value, margin=5.0):
        value = calculate_loss(self, x, label_value, margin)
        if not rec.in_eval:
            rec.d_calls.append(value.item())
        return value

    Discriminator.calculate_loss = recording_d_loss

    clip = torch.nn.utils.clip_grad_norm_

    def recording_clip(parameters, max_norm, *a, **k):
        parameters = list(parameters)
        rec.d_grad_norm = grad_norm(parameters)
        return clip(parameters, max_norm, *a, **k)

    torch.nn.utils.clip_grad_norm_ = recording_clip

    class RecordingAdam(torch.optim.Adam):
        def __init__(self, params, *a, **k):
            super().__init__(params, *a, **k)
            rec.optimizers.append(self)

        def step(self, closure=None):
            is_ae = self is rec.optimizers[0]
            if is_ae:
                rec.ae_grad_norm = grad_norm([p for g in self.param_groups for p in g['params']])
                if rec.dumping() and rec.ae is not None:
                    rec.ae_grads = to_ckaad({n: p.grad for n, p in rec.ae.named_parameters() if p.grad is not None})
            result = super().step(closure)
            if is_ae:
                finish_step(rec)
            return result

    torch.optim.Adam = RecordingAdam

    # --- evaluation: per-image scores and metrics -----------------------------------------
    evaluation = main.evaluation
    calculate_metrics = test.calculate_metrics

    def recording_metrics(scores, labels, acc=True):
        metrics = calculate_metrics(scores, labels, acc)
        rec.last_scores = np.asarray(scores, dtype=np.float32)
        rec.last_labels = np.asarray(labels).astype(np.uint8)
        return metrics

    test.calculate_metrics = recording_metrics

    def recording_evaluation(encoder, ed_net, loader, device, args):
        rec.in_eval = True
        try:
            metrics = evaluation(encoder, ed_net, loader, device, args)
        finally:
            rec.in_eval = False
        split = 'validation' if loader.dataset.train else 'test'  # the validation set is a copy of the training set
        rec.eval_results.append({'epoch': rec.epoch, 'split': split, 'metrics': metrics['Image'], 'count': len(loader.dataset)})
        if rec.out is not None:
            rec.last_scores.tofile(os.path.join(rec.out, f'scores-{split}-{rec.epoch}.f32'))
            rec.last_labels.tofile(os.path.join(rec.out, f'labels-{split}.u8'))
        if split == 'test':
            finish_epoch(rec)
        return metrics

    main.evaluation = recording_evaluation


def finish_step(rec):
    rec.step += 1
    rec.epoch_step += 1
    c = rec.d_calls
    entry = {
        'step': rec.step,
        'epoch': rec.epoch,
        'normal': rec.normal_idx,
        'anomalies': rec.anomaly_idx,
        'lRec': rec.l_rec,
        'dTerms': c,
        'lD': (c[0] + (1 - GAMMA) * c[1] + GAMMA * c[2]) if len(c) == 4 else 0.0,
        'lAdv': c[3] if len(c) == 4 else 0.0,
        'aeGradNorm': rec.ae_grad_norm,
        'dGradNorm': rec.d_grad_norm if len(c) == 4 else 0.0,
    }
    entry['lAe'] = entry['lRec'] + 0.02 * entry['lAdv']
    rec.epoch_values.append(entry)
    if rec.steps_file is not None:
        rec.steps_file.write(json.dumps(entry) + '\n')
        rec.steps_file.flush()
    if rec.out is not None and rec.step <= rec.dump_steps:
        tensors = {}
        for kind, maps in zip(('normal', 'anomalies'), rec.features):
            for i, m in enumerate(maps):
                tensors[f'features.{kind}.{i}'] = nhwc(m)
        for kind, maps in zip(('normal', 'anomalies'), rec.recon):
            for i, m in enumerate(maps):
                tensors[f'recon.{kind}.{i}'] = nhwc(m)
        if rec.step == 1:
            for kind, x in zip(('normal', 'anomalies'), rec.inputs):
                tensors[f'input.{kind}'] = nhwc(x)
        for name, a in to_ckaad(rec.ae.state_dict()).items():
            tensors[f'ae.{name}'] = a
        for name, a in rec.ae_grads.items():
            tensors[f'grad.ae.{name}'] = a
        if len(c) == 4 and rec.d is not None:
            for name, a in to_ckaad(discriminator_state(rec.d)).items():
                tensors[f'd.{name}'] = a
        write_safetensors(os.path.join(rec.out, f'step-{rec.step}.safetensors'), tensors)
    rec.reset()
    if rec.max_steps and rec.step >= rec.max_steps:
        raise StopRun()


def finish_epoch(rec):
    values = rec.epoch_values
    mean = lambda k: float(np.mean([v[k] for v in values])) if values else None  # noqa: E731
    evals = {r['split']: r['metrics'] for r in rec.eval_results if r['epoch'] == rec.epoch}
    entry = {
        'epoch': rec.epoch,
        'steps': len(values),
        'lRec': mean('lRec'),
        'lAdv': mean('lAdv'),
        'lD': mean('lD'),
        'lAe': mean('lAe'),
        'validation': evals.get('validation'),
        'test': evals.get('test'),
        'seconds': time.time() - rec.epoch_started,
    }
    print(json.dumps(entry), flush=True)
    if rec.out is not None:
        with open(os.path.join(rec.out, 'epochs.jsonl'), 'a') as f:
            f.write(json.dumps(entry) + '\n')
    rec.epoch += 1
    rec.epoch_step = 0
    rec.epoch_values = []
    rec.epoch_started = time.time()


def authors_args(a, out):
    """The argparse namespace the authors' train() reads, for this setting."""
    return argparse.Namespace(
        dataset='cifar10',  # the code path that reads a torchvision-style data set
        batch_size=a.batch_size,
        lr=a.lr,
        epochs=a.epochs,
        img_size=a.img_size,
        normal=str(a.normal),
        seed=a.seed,
        labeled_anomaly_class_num=1,
        labeled_anomaly_class=a.labelled_class,
        labeled_anomaly_ratio=a.ratio,
        log_dir=os.path.join(out, 'log'),
        model='resnet18',
        eval_epoch=1 if a.eval else 10 ** 9,
        layer=[2, 3],
        d_lr=a.d_lr,
        adv_conf=0.02,
        topk=100,
    )


def common(p):
    p.add_argument('--reference', required=True, help='checkout of Faustinaqq/CKAAD (imported, never copied)')
    p.add_argument('--data', default='/usr/share/datasets/fashion-mnist', help='folder of the four Fashion-MNIST IDX files')
    p.add_argument('--backbone', required=True, help='resnet18 safetensors (scripts/export_random_resnet.py)')
    p.add_argument('--out', required=True, help='output folder (created)')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--normal', type=int, default=0, help='normal class (label value)')
    p.add_argument('--labelled-class', type=int, default=1, help='class of the labelled anomalies')
    p.add_argument('--batch-size', type=int, default=64)
    p.add_argument('--img-size', type=int, default=64)
    p.add_argument('--lr', type=float, default=1e-3)
    p.add_argument('--d-lr', type=float, default=1e-4)
    p.add_argument('--threads', type=int, default=1)


def cmd_run(a):
    a.ratio = {'recon': 0.0, 'ckapatch': 0.05}[a.arm] if a.ratio is None else a.ratio
    os.makedirs(a.out, exist_ok=True)
    torch.set_num_threads(a.threads)
    ref = load_reference(a.reference)
    rec = Recorder(a.out, a.dump_steps, a.steps)
    instrument(ref, rec, a.data, a.backbone, a.init, a.float64)
    args = authors_args(a, a.out)
    with open(os.path.join(a.out, 'run.json'), 'w') as f:
        json.dump({
            'command': sys.argv,
            'reference': {'path': ref.path, 'commit': ref.commit},
            'torch': torch.__version__,
            'threads': torch.get_num_threads(),
            'arm': a.arm,
            'float64': a.float64,
            'authorsArgs': vars(args),
        }, f, indent=1)
    started = time.time()
    args.seed = ref.main.setup_seed(args.seed)
    try:
        ref.main.train(args)
        status = 'completed'
    except StopRun:
        status = f'stopped after {rec.step} steps'
    print(json.dumps({'status': status, 'steps': rec.step, 'seconds': time.time() - started}), flush=True)


def cmd_score(a):
    """The authors' evaluation of the test split with given auto-encoder weights."""
    os.makedirs(a.out, exist_ok=True)
    torch.set_num_threads(a.threads)
    ref = load_reference(a.reference)
    rec = Recorder(a.out, 0, 0)
    instrument(ref, rec, a.data, a.backbone, a.weights)
    a.ratio, a.epochs, a.eval = 0.0, 1, True
    args = authors_args(a, a.out)
    ref.main.setup_seed(args.seed)
    ds = ref.dataset.OODDataSet(root='./data', dataset='cifar10', image_size=args.img_size, category=args.normal,
                                labeled_anomaly_ratio=0.0, labeled_anomaly_class_num=1, labeled_anomaly_class=args.labeled_anomaly_class)
    *_, test_loader = ds.get_data_loader(batch_size=args.batch_size)
    pfe = ref.model.PretrainedFeatureExtractor('resnet18', layers=[2, 3], image_size=args.img_size)
    pfe.eval()
    ae = ref.main.ED(backbone='resnet18', input_channels=pfe.output_channels)
    started = time.time()
    metrics = ref.main.evaluation(pfe, ae, test_loader, 'cpu', args)
    print(json.dumps({'test': metrics['Image'], 'seconds': time.time() - started}), flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    sub = parser.add_subparsers(dest='command', required=True)
    run = sub.add_parser('run', help="the authors' train() with instrumentation")
    common(run)
    run.add_argument('--arm', choices=['recon', 'ckapatch'], required=True, help='recon: r_l 0; ckapatch: r_l 0.05')
    run.add_argument('--ratio', type=float, default=None, help='override r_l')
    run.add_argument('--epochs', type=int, default=1)
    run.add_argument('--steps', type=int, default=0, help='stop after this many steps (0: all epochs)')
    run.add_argument('--dump-steps', type=int, default=0, help='write step-<k>.safetensors for steps 1..k')
    run.add_argument('--eval', action='store_true', help="run the authors' validation and test evaluation every epoch")
    run.add_argument('--float64', action='store_true', help='the same run in double precision (the float32-noise yardstick)')
    run.add_argument('--init', default=None, help='start from these auto-encoder weights (ckaad layout) instead of the seeded init')
    score = sub.add_parser('score', help="the authors' scoring of the test split with given weights")
    common(score)
    score.add_argument('--weights', required=True, help='auto-encoder weights in ckaad layout (run/init/autoencoder.safetensors, or a run/step-<k>.safetensors dump)')
    a = parser.parse_args()
    {'run': cmd_run, 'score': cmd_score}[a.command](a)


if __name__ == '__main__':
    main()
