# SPDX-License-Identifier: Apache-2.0
"""torch_stack.py - the user's stack, measured the way bench/run needs it.

    /usr/bin/python3 bench/torch_stack.py --data DIR --threads N --batch B
        [--seconds S] [--mode eager|tuned] [--stage e2e|infer|prep]
    /usr/bin/python3 bench/torch_stack.py --data DIR --dump FILE [--count 16]
    /usr/bin/python3 bench/torch_stack.py --macs
    /usr/bin/python3 bench/torch_stack.py --export-onnx FILE

The pipeline is the user's Spark job's (../shared/SYSTEM.md): Pillow
decodes each JPEG, torchvision transforms it (Resize 256, CenterCrop 224,
ToTensor, Normalize with the ImageNet mean and std), and torchvision's
MobileNetV2 classifies it in PyTorch, here through a DataLoader (batch 1,
the user's job, or 16; no worker processes, so the N threads of
torch.set_num_threads(N) are the whole budget, as for the other systems).
The weights are random (seeded): pretrained ones cannot be downloaded
here, and the cost of a float network does not depend on its weights.

--mode eager is the job as written (model.eval(), torch.inference_mode());
--mode tuned is what a PyTorch expert would do first: TorchScript, frozen,
torch.jit.optimize_for_inference (oneDNN convolutions). --stage picks what
is timed: e2e (decode + transforms + model, the default), infer (the model
alone on one preprocessed batch, repeated) or prep (the DataLoader alone).

Each measurement warms up on one batch, then runs whole batches, cycling
over the folder, until --seconds have passed. Prints one JSON object:
images_per_s, images, seconds, peak_rss_mib (this process's maximum RSS:
one configuration per process), load_s (model construction, plus
scripting for tuned), first_result_s (from model construction to the
first batch's scores, warm-up runs included), torch version, threads, batch, mode, stage.

--dump writes the first --count images of the folder (ImageFolder order),
preprocessed as above, as raw little-endian float32 NCHW to FILE: the
input of bench/node/ort_bench.js, so ONNX Runtime runs on the same
pixels.

--macs counts the model's multiply-accumulates per image with forward
hooks (Conv2d: output elements x in/groups x kh x kw; Linear: out x in),
a check on bench_macs' count from imgstream's loaded graph.

--export-onnx is a fallback for bench/run when scripts/export-onnx.py is
missing: the same seeded model, torch.onnx.export, opset 13, dynamic
batch axis.
"""
import argparse
import json
import resource
import sys
import time

import torch
import torchvision
from torch.utils.data import DataLoader
from torchvision import transforms


def make_transform():
    return transforms.Compose([
        transforms.Resize(256),
        transforms.CenterCrop(224),
        transforms.ToTensor(),
        transforms.Normalize(mean=[0.485, 0.456, 0.406],
                             std=[0.229, 0.224, 0.225]),
    ])


def make_model(mode):
    torch.manual_seed(0)
    model = torchvision.models.mobilenet_v2(weights=None).eval()
    if mode == "tuned":
        with torch.no_grad():
            scripted = torch.jit.script(model)
            frozen = torch.jit.freeze(scripted)
            model = torch.jit.optimize_for_inference(frozen)
    return model


def batches(loader):
    """Endless batches, cycling over the loader."""
    while True:
        for images, _labels in loader:
            yield images


def measure(args):
    torch.set_num_threads(args.threads)
    dataset = torchvision.datasets.ImageFolder(args.data, make_transform())
    loader = DataLoader(dataset, batch_size=args.batch, shuffle=False,
                        num_workers=0, drop_last=True)
    t0 = time.perf_counter()
    model = make_model(args.mode)
    load_s = time.perf_counter() - t0
    source = batches(loader)
    with torch.inference_mode():
        first = next(source)
        if args.mode == "tuned":  # TorchScript profiles its first runs
            for _ in range(2):
                model(first)
        model(first)  # warm-up
        first_result_s = time.perf_counter() - t0
        done = 0
        start = time.perf_counter()
        while True:
            if args.stage == "infer":
                model(first)
            elif args.stage == "prep":
                next(source)
            else:
                scores = model(next(source))
                torch.softmax(scores, dim=1).topk(1)
            done += args.batch
            elapsed = time.perf_counter() - start
            if elapsed >= args.seconds:
                break
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    return {
        "images_per_s": done / elapsed, "images": done, "seconds": elapsed,
        "peak_rss_mib": rss, "load_s": load_s,
        "first_result_s": first_result_s, "torch": torch.__version__,
        "torchvision": torchvision.__version__, "threads": args.threads,
        "batch": args.batch, "mode": args.mode, "stage": args.stage,
    }


def count_macs():
    model = make_model("eager")
    total = {"conv": 0, "fc": 0}

    def conv_hook(mod, _inp, out):
        k = mod.in_channels // mod.groups * mod.kernel_size[0] * \
            mod.kernel_size[1]
        total["conv"] += out.numel() * k

    def fc_hook(mod, _inp, out):
        total["fc"] += out.numel() * mod.in_features

    for m in model.modules():
        if isinstance(m, torch.nn.Conv2d):
            m.register_forward_hook(conv_hook)
        elif isinstance(m, torch.nn.Linear):
            m.register_forward_hook(fc_hook)
    with torch.inference_mode():
        model(torch.zeros(1, 3, 224, 224))
    return {"macs": total["conv"] + total["fc"], **total}


def export_onnx(path):
    model = make_model("eager")
    x = torch.zeros(1, 3, 224, 224)
    torch.onnx.export(model, x, path, input_names=["input"],
                      output_names=["logits"], opset_version=13,
                      dynamic_axes={"input": {0: "batch"},
                                    "logits": {0: "batch"}})
    return {"onnx": path}


def dump(args):
    dataset = torchvision.datasets.ImageFolder(args.data, make_transform())
    x = torch.stack([dataset[i][0] for i in range(args.count)])
    x.contiguous().numpy().astype("<f4").tofile(args.dump)
    return {"dump": args.dump, "shape": list(x.shape)}


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--mode", choices=["eager", "tuned"], default="eager")
    p.add_argument("--stage", choices=["e2e", "infer", "prep"],
                   default="e2e")
    p.add_argument("--dump")
    p.add_argument("--count", type=int, default=16)
    p.add_argument("--macs", action="store_true")
    p.add_argument("--export-onnx")
    args = p.parse_args()
    if args.macs:
        out = count_macs()
    elif args.export_onnx:
        out = export_onnx(args.export_onnx)
    else:
        if not args.data:
            p.error("--data is needed")
        out = dump(args) if args.dump else measure(args)
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
