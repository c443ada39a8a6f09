#!/usr/bin/python3
"""The PyTorch side of `npm run bench -- training`: the authors' CKAAD models, timed on this CPU.

    /usr/bin/python3 bench/pytorch-reference.py --ref <checkout of Faustinaqq/CKAAD> --threads 2 step
    /usr/bin/python3 bench/pytorch-reference.py --ref ... --threads 2 scoring
    /usr/bin/python3 bench/pytorch-reference.py --ref ... --threads 2 epoch

The models are imported from the authors' repository (`--ref`, its model/ package):
PretrainedFeatureExtractor (torchvision ResNet, random weights: the speed does not depend on
them, and there is no download here), the ED auto-encoder and the patch Discriminator (the
second `Discriminator` class of model/model.py, the one main.py uses). What main.py's
training loop and util/test.py's evaluation do around them is restated here (util/test.py
needs cv2 and skimage, main.py a dataset on disk):

- step: one CKAPatch step on 16 normal + 16 anomalous images — both go through the backbone
  and the auto-encoder, the discriminator's loss (normal features real, anomalous features
  and reconstructions fake, gamma 0.5) is minimised with its gradient norm clipped to 1,
  then the auto-encoder's cosine reconstruction loss of the normal images plus 0.02 × the
  adversarial loss; Adam (lr 0.005 / 1e-5, betas 0.5, 0.999) as in main.py.
- epoch: main.py's epoch loop over 64 normal images in batches of 16 zipped with a cycle
  of the 16 anomalies' batches (4 steps), after one warm-up epoch.
- scoring: util/test.py's evaluation per batch of 16 — features, reconstructions, the sum
  of per-layer 1 − cos maps upsampled to the image size (bilinear, align_corners), a
  Gaussian filter σ = 4 per image, the mean of the top 100 values.

Random 256×256 pixels, normalised with the ImageNet statistics. Prints one JSON line:
seconds per timed step (or per epoch), images/s for scoring, peak RSS in MiB.
"""

import argparse
import itertools
import json
import resource
import sys
import time


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('case', choices=['step', 'epoch', 'scoring'])
    p.add_argument('--ref', required=True, help="checkout of the authors' code (Faustinaqq/CKAAD)")
    p.add_argument('--threads', type=int, required=True, help='torch.set_num_threads')
    p.add_argument('--backbone', default='resnet18')
    p.add_argument('--layers', default='2,3', help='backbone layers, comma-separated (main.py --layer)')
    p.add_argument('--batch', type=int, default=16, help='normal (= anomalous) images per step')
    p.add_argument('--size', type=int, default=256)
    p.add_argument('--steps', type=int, default=3, help='timed steps / scoring batches / epochs')
    p.add_argument('--normal', type=int, default=64, help='epoch: normal images')
    p.add_argument('--anomalies', type=int, default=16, help='epoch: anomalous images')
    return p.parse_args()


def build_models(args, torch):
    sys.path.insert(0, args.ref)
    import torchvision.models as tv_models
    from model import model as authors

    # PretrainedFeatureExtractor asks torchvision for ImageNet weights (a download): random ones instead.
    for name in ('resnet18', 'resnet34', 'resnet50', 'wide_resnet50_2', 'wide_resnet101_2'):
        original = getattr(tv_models, name)
        setattr(authors.models, name, (lambda f: lambda weights=None, **kw: f(weights=None, **kw))(original))
    layers = [int(x) for x in args.layers.split(',')]
    torch.manual_seed(0)
    pfe = authors.PretrainedFeatureExtractor(args.backbone, pretrained=False, layers=layers, image_size=args.size)
    for param in pfe.parameters():
        param.requires_grad_(False)
    pfe.eval()
    ae = authors.ED(backbone=args.backbone, input_channels=pfe.output_channels)
    disc = authors.Discriminator(input_sizes=pfe.output_sizes, input_channels=pfe.output_channels, expansion=pfe.expansion)
    ae_opt = torch.optim.Adam(ae.parameters(), lr=0.005, betas=(0.5, 0.999))
    d_opt = torch.optim.Adam(disc.parameters(), lr=1e-5, betas=(0.5, 0.999))
    return pfe, ae, disc, ae_opt, d_opt


def random_images(torch, count, size, seed):
    g = torch.Generator().manual_seed(seed)
    pixels = torch.randint(0, 256, (count, 3, size, size), generator=g, dtype=torch.uint8).float() / 255
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    return (pixels - mean) / std


def train_step(torch, models, normal, anomaly, gamma=0.5, adv_conf=0.02):
    pfe, ae, disc, ae_opt, d_opt = models
    normal_in = pfe(normal)
    normal_out = ae(normal_in)
    anomaly_in = pfe(anomaly)
    anomaly_out = ae(anomaly_in)
    outputs = [torch.cat([n, a]) for n, a in zip(normal_out, anomaly_out)]
    real, fake = 0, 1
    d_loss = (
        disc.calculate_loss([x.detach() for x in normal_in], real)
        + (1 - gamma) * disc.calculate_loss([x.detach() for x in anomaly_in], fake)
        + gamma * disc.calculate_loss([o.detach() for o in outputs], fake)
    )
    d_opt.zero_grad()
    d_loss.backward()
    torch.nn.utils.clip_grad_norm_(disc.parameters(), 1.0)
    d_opt.step()
    adv_loss = disc.calculate_loss(outputs, real)
    cos = torch.nn.CosineSimilarity()
    recon = 0
    for a, b in zip(normal_in, normal_out):
        recon = recon + torch.mean(1 - cos(a.view(a.shape[0], -1), b.view(b.shape[0], -1)))
    ae_loss = recon + adv_conf * adv_loss
    ae_opt.zero_grad()
    ae_loss.backward()
    ae_opt.step()
    return float(ae_loss)


def score_batch(torch, models, images, sigma=4.0, topk=100):
    from scipy.ndimage import gaussian_filter

    pfe, ae = models[0], models[1]
    with torch.no_grad():
        inputs = pfe(images)
        outputs = ae(inputs)
        size = images.shape[-1]
        amap = torch.zeros(images.shape[0], 1, size, size)
        for fs, ft in zip(inputs, outputs):
            m = (1 - torch.nn.functional.cosine_similarity(fs, ft)).unsqueeze(1)
            amap += torch.nn.functional.interpolate(m, size=size, mode='bilinear', align_corners=True)
        maps = amap.numpy()
        smoothed = torch.stack([torch.from_numpy(gaussian_filter(m, sigma=sigma)) for m in maps])
        return torch.topk(smoothed.reshape(images.shape[0], -1), topk, dim=-1)[0].mean(dim=-1)


def main():
    args = parse_args()
    import torch

    torch.set_num_threads(args.threads)
    models = build_models(args, torch)
    models[1].train()
    models[2].train()
    result = {'torch': torch.__version__, 'threads': torch.get_num_threads()}
    if args.case == 'step':
        normal = random_images(torch, args.batch, args.size, 1)
        anomaly = random_images(torch, args.batch, args.size, 2)
        train_step(torch, models, normal, anomaly)  # warm-up
        seconds = []
        for _ in range(args.steps):
            start = time.perf_counter()
            train_step(torch, models, normal, anomaly)
            seconds.append(time.perf_counter() - start)
        result['stepSeconds'] = seconds
    elif args.case == 'epoch':
        normal = random_images(torch, args.normal, args.size, 1)
        anomalies = random_images(torch, args.anomalies, args.size, 2)
        batches = lambda x: [x[i:i + args.batch] for i in range(0, x.shape[0], args.batch)]
        epoch_seconds = []
        for _ in range(args.steps + 1):  # the first epoch warms up
            start = time.perf_counter()
            steps = 0
            order = torch.randperm(normal.shape[0])
            for n, a in zip(batches(normal[order]), itertools.cycle(batches(anomalies))):
                train_step(torch, models, n, a)
                steps += 1
            epoch_seconds.append(time.perf_counter() - start)
        result['epochSeconds'] = epoch_seconds[1:]
        result['stepsPerEpoch'] = steps
    else:
        models[1].eval()
        batches = [random_images(torch, args.batch, args.size, 10 + i) for i in range(args.steps + 1)]
        score_batch(torch, models, batches[0])  # warm-up
        start = time.perf_counter()
        for b in batches[1:]:
            score_batch(torch, models, b)
        result['scoringImagesPerSecond'] = args.steps * args.batch / (time.perf_counter() - start)
    result['maxRssMiB'] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(result))


if __name__ == '__main__':
    main()
