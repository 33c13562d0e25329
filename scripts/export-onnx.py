#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""export-onnx.py - export a torchvision classifier with seeded random weights to ONNX.

usage: scripts/export-onnx.py --model {mobilenet_v2,resnet18,efficientnet_b0}
                              [--seed N] [--opset 11..17] --out FILE.onnx

Pretrained weights cannot be downloaded here (and tests must not depend on
the network), so the model is built with weights=None and every parameter
comes from torch.manual_seed(seed): torchvision's own initialization, then
every BatchNorm layer's weight, bias, running mean and running variance
are redrawn (weight ~ U(0.5, 1.5), bias ~ N(0, 0.1), mean ~ N(0, 0.1),
var ~ U(0.5, 1.5)). Fresh BatchNorm layers are the identity (mean 0, var
1, weight 1, bias 0), which would let a loader that folds BatchNorm wrongly
pass every test; random statistics make the folding count.

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


def build_model(name, seed):
    """torchvision's `name` with seeded random weights, in eval mode."""
    import torch
    import torchvision
    torch.manual_seed(seed)
    model = getattr(torchvision.models, name)(weights=None)
    gen = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                n = m.num_features
                m.weight.copy_(torch.rand(n, generator=gen) + 0.5)
                m.bias.copy_(torch.randn(n, generator=gen) * 0.1)
                m.running_mean.copy_(torch.randn(n, generator=gen) * 0.1)
                m.running_var.copy_(torch.rand(n, generator=gen) + 0.5)
    return model.eval()


def export(model, path, opset):
    import torch
    x = torch.zeros(1, 3, 224, 224)
    tmp = path + ".tmp"
    with torch.no_grad():
        torch.onnx.export(model, x, tmp, opset_version=opset,
                          input_names=["input"], output_names=["logits"],
                          dynamic_axes={"input": {0: "batch"},
                                        "logits": {0: "batch"}})
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
    model = build_model(args.model, args.seed)
    try:
        export(model, args.out, args.opset)
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
