#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""export-onnx.py - export a torchvision classifier with seeded random weights to ONNX.

usage: scripts/export-onnx.py --model {mobilenet_v2,resnet18,efficientnet_b0}
                              [--seed N] [--opset 11..17] --out FILE.onnx
                              [--calibrate IMAGE]... [--weights-out FILE]
                              [--keep-batchnorm] [--no-constant-folding]

Pretrained weights cannot be downloaded here (and tests must not depend on
the network), so the model is built with weights=None and every parameter
comes from torch.manual_seed(seed): torchvision's own initialization for
convolutions and linear layers, then every BatchNorm layer gets random
statistics and affine parameters: weight ~ U(0.5, 1.5), bias ~
N(0, 0.1); the running mean and variance are measured on seeded noise
images (so activations neither vanish nor blow up, and the logits depend
on the image), then perturbed (mean + N(0, 0.1) * std, var * U(0.8,
1.2): more would compound over 50 layers). --calibrate IMAGE (repeat)
measures them on photos instead of noise, which keeps deep nets
well-conditioned on photos (tests/torch_reference.py does this). Fresh BatchNorm layers are the identity (mean 0, var 1,
weight 1, bias 0), which would let a loader that folds BatchNorm wrongly
pass every test; these make the folding count.

The model is exported in eval() mode (Dropout off, BatchNorm on its running
statistics) with torch.onnx.export at the given opset (default 13), input
"input" [N, 3, 224, 224] and output "logits" [N, 1000], N a dynamic axis.
The same seed gives the same weights, so PyTorch and imgstream can be
compared on the very same network (tests/torch_parity.py does).

--weights-out FILE additionally saves the state dict (torch.save), so a
test can rebuild the exact module without re-exporting.

Prints one JSON line: model, seed, opset, out, parameter count.
Exit codes: 0 ok, 2 usage error, 3 torch/torchvision missing, 1 export
failed.
"""
import argparse
import json
import os
import sys

MODELS = ("mobilenet_v2", "resnet18", "efficientnet_b0")


def load_images(paths):
    """torchvision's ImageNet evaluation transform of each file, stacked."""
    import torch
    from PIL import Image
    from torchvision import transforms
    t = transforms.Compose([
        transforms.Resize(256), transforms.CenterCrop(224),
        transforms.ToTensor(),
        transforms.Normalize(mean=[0.485, 0.456, 0.406],
                             std=[0.229, 0.224, 0.225])])
    out = []
    for p in paths:
        with open(p, "rb") as f:
            out.append(t(Image.open(f).convert("RGB")))
    return torch.stack(out)


def calibrate(model, gen, images=None):
    """Give every BatchNorm statistics near the real ones of its input.

    A network with random weights and arbitrary BatchNorm statistics
    drifts layer by layer until its activations vanish or saturate
    (ReLU6): its logits then no longer depend on the image, and a parity
    test would compare a constant. So the statistics are first measured
    on `images` (a preprocessed batch; default: 8 seeded noise images.
    Photos make deep nets such as EfficientNet far better conditioned:
    with noise statistics its float32 logits are only good to ~1e-3 of
    float64's on photos, with photo statistics to ~1e-5) (one pass with only the BatchNorm layers in
    training mode, cumulative averages) after drawing the affine
    parameters, then perturbed a little; they are far from the identity,
    so folding them into the convolutions has to be exact to pass.
    """
    import torch
    bns = [m for m in model.modules()
           if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    for m in bns:
        n = m.num_features
        with torch.no_grad():
            m.weight.copy_(torch.rand(n, generator=gen) + 0.5)
            m.bias.copy_(torch.randn(n, generator=gen) * 0.1)
        m.reset_running_stats()
        m.momentum = None  # cumulative average over the calibration pass
        m.train()  # only BatchNorm: Dropout, StochasticDepth stay off
    with torch.no_grad():
        if images is None:
            images = torch.randn(8, 3, 224, 224, generator=gen)
        model(images)
        for m in bns:
            n = m.num_features
            sd = m.running_var.sqrt()
            m.running_mean.add_(torch.randn(n, generator=gen) * 0.1 * sd)
            m.running_var.mul_(torch.rand(n, generator=gen) * 0.4 + 0.8)
            m.momentum = 0.1
            m.eval()


def build_model(name, seed, images=None):
    """torchvision's `name` with seeded random weights, in eval mode;
    `images` for calibrate()."""
    import torch
    import torchvision
    torch.manual_seed(seed)
    model = getattr(torchvision.models, name)(weights=None)
    model.eval()
    calibrate(model, torch.Generator().manual_seed(seed + 1), images)
    return model


def export(model, path, opset, fold=True, keep_bn=False):
    """torch.onnx.export; fold=False keeps what the exporter's constant
    folding would remove (Constant nodes, Shape -> Gather -> Unsqueeze ->
    Concat chains), the raw forms a loader must fold itself. In eval mode
    the exporter fuses BatchNormalization into the Conv before it: keep_bn
    exports with TrainingMode.PRESERVE (the model still in eval mode), so
    the file keeps its BatchNormalization nodes for the loader to fold."""
    import torch
    x = torch.zeros(1, 3, 224, 224)
    tmp = path + ".tmp"
    with torch.no_grad():
        torch.onnx.export(model, x, tmp, opset_version=opset,
                          input_names=["input"], output_names=["logits"],
                          dynamic_axes={"input": {0: "batch"},
                                        "logits": {0: "batch"}},
                          do_constant_folding=fold,
                          training=(torch.onnx.TrainingMode.PRESERVE
                                    if keep_bn else
                                    torch.onnx.TrainingMode.EVAL))
    os.replace(tmp, path)  # never leave a half-written model behind


def main():
    p = argparse.ArgumentParser(
        description="Export a torchvision classifier with seeded random "
                    "weights to ONNX.")
    p.add_argument("--model", choices=MODELS, default="mobilenet_v2")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--opset", type=int, default=13)
    p.add_argument("--out", required=True)
    p.add_argument("--weights-out")
    p.add_argument("--keep-batchnorm", action="store_true",
                   help="keep BatchNormalization nodes (the exporter fuses "
                        "them into the convolutions by default)")
    p.add_argument("--no-constant-folding", action="store_true",
                   help="keep the exporter's unfolded forms (Constant "
                        "nodes, Shape/Gather/Concat chains)")
    p.add_argument("--calibrate", action="append", metavar="IMAGE",
                   help="an image whose activations set the BatchNorm "
                        "statistics (repeat; default: seeded noise)")
    args = p.parse_args()
    if not 11 <= args.opset <= 17:
        p.error("--opset must be from 11 to 17, got %d" % args.opset)
    if args.seed < 0:
        p.error("--seed must be 0 or more, got %d" % args.seed)
    try:
        import torch
        import torchvision  # noqa: F401
    except ImportError as e:
        print("export-onnx.py: needs python3-torch and python3-torchvision "
              "(scripts/install-deps): %s" % e, file=sys.stderr)
        return 3
    torch.set_num_threads(1)
    try:
        images = load_images(args.calibrate) if args.calibrate else None
    except OSError as e:
        print("export-onnx.py: --calibrate: %s" % e, file=sys.stderr)
        return 2
    model = build_model(args.model, args.seed, images)
    try:
        export(model, args.out, args.opset, not args.no_constant_folding,
               args.keep_batchnorm)
        if args.weights_out:
            torch.save(model.state_dict(), args.weights_out)
    except Exception as e:  # torch raises many kinds; report any
        print("export-onnx.py: exporting %s to %s failed: %s"
              % (args.model, args.out, e), file=sys.stderr)
        return 1
    params = sum(t.numel() for t in model.parameters())
    print(json.dumps({"model": args.model, "seed": args.seed,
                      "opset": args.opset, "out": args.out,
                      "parameters": params}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
