#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""torch_reference.py - PyTorch's side of the torch_* tests (CTest fixture).

usage: tests/torch_reference.py OUTDIR SHARED_DIR

Writes, into OUTDIR, everything tests/torch_parity.c compares imgstream
against, computed by PyTorch 1.13 / torchvision 0.14 alone (an independent
implementation: nothing of imgstream runs here):

  MODEL.onnx             scripts/export-onnx.py's export (seeded random
                         weights, BatchNorm statistics too, measured on the
                         last 2 photos of each class and perturbed: keeps
                         the nets well-conditioned) of mobilenet_v2,
                         resnet18, efficientnet_b0 at opset 13, and
                         mobilenet_v2 at opsets 11 and 17, efficientnet_b0
                         at 17, in other export forms (see MODELS)
  images.txt             the 20 photos, one absolute path a line: the first
                         4 of each flower class, sorted by name
  MODEL.logits           20 x 1000 float32 (little-endian): the eager
                         model's logits on those photos through
                         torchvision's own transforms (PIL decode,
                         Resize(256), CenterCrop(224), ToTensor,
                         Normalize(ImageNet))
  mobilenet_v2.custom.logits
                         the same with Resize(240) and Normalize(mean
                         0.5,0.4,0.3, std 0.25,0.2,0.3): what imgstream's
                         --resize/--mean/--std overrides must reproduce
  prep.txt, prep/NAME.rgb, prep/NAME.chw
                         preprocessing alone: per line "NAME W H"; .rgb is
                         the PIL-decoded image (H x W x 3 bytes), .chw the
                         3 x 224 x 224 float32 tensor torchvision makes of
                         it (Resize, CenterCrop, ToTensor, Normalize).
                         Images: the 20 photos, the 4 shared test images,
                         and PIL-resized variants that upscale, are wide,
                         tall, odd-sized or exactly 224/256
  stamp                  what the files were made from; when it matches
                         (same scripts, same torch), nothing is redone,
                         so the ~1 min of exports happens once per build

When torch or torchvision cannot be imported: exit 77 (CTest skip) and a
file OUTDIR/SKIPPED saying why, unless $CI is set (then exit 1: CI must
run these tests).
"""
import hashlib
import importlib.util
import json
import os
import sys

SKIP = 77
# (file stem, torchvision name, opset, export forms). torch 1.13 gives
# the same graph at every opset 11-17 for these nets when it folds, so the
# variants also vary the forms: "raw" keeps Constant nodes and shape
# chains (no exporter constant folding), "bn" keeps BatchNormalization
# nodes (else the exporter fuses them into the convs), "view" flattens
# with x.view(x.size(0), -1) (Shape -> Gather -> Unsqueeze -> Concat ->
# Reshape) instead of torch.flatten (Flatten). Same weights: same logits.
MODELS = [
    ("mobilenet_v2", "mobilenet_v2", 13, ()),
    ("mobilenet_v2_opset11", "mobilenet_v2", 11, ("raw", "bn")),
    ("mobilenet_v2_opset17", "mobilenet_v2", 17, ("raw", "bn", "view")),
    ("resnet18", "resnet18", 13, ("bn",)),
    ("efficientnet_b0", "efficientnet_b0", 13, ()),
    ("efficientnet_b0_opset17", "efficientnet_b0", 17, ("raw", "bn")),
]
SEED = 0
CLASSES = ("daisy", "dandelion", "rose", "sunflower", "tulip")
HERE = os.path.dirname(os.path.abspath(__file__))
EXPORTER = os.path.join(HERE, "..", "scripts", "export-onnx.py")


def fail(msg, code=1):
    print("torch_reference.py: " + msg, file=sys.stderr)
    sys.exit(code)


def stamp_text(torch_version):
    h = hashlib.sha256()
    for path in (EXPORTER, os.path.abspath(__file__)):
        with open(path, "rb") as f:
            h.update(f.read())
    return json.dumps({"sources": h.hexdigest(), "torch": torch_version,
                       "models": [m[0] for m in MODELS]})


def photos(shared, first=True):
    """The first 4 photos of each class (the tests'), or the last 2 (for
    the BatchNorm statistics: never the ones tested)."""
    out = []
    for c in CLASSES:
        d = os.path.join(shared, "data", "flowers", c)
        names = sorted(n for n in os.listdir(d) if n.endswith(".jpg"))
        if len(names) < 4:
            fail("%s has %d photos, want at least 4" % (d, len(names)))
        pick = names[:4] if first else names[-2:]
        out += [os.path.join(d, n) for n in pick]
    return out


IMAGENET = ([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])
# The overrides tests/torch_parity.c gives imgstream's --resize/--mean/--std.
CUSTOM = (240, [0.5, 0.4, 0.3], [0.25, 0.2, 0.3])


def transform(resize=256, mean=IMAGENET[0], std=IMAGENET[1]):
    from torchvision import transforms
    return transforms.Compose([
        transforms.Resize(resize),
        transforms.CenterCrop(224),
        transforms.ToTensor(),
        transforms.Normalize(mean=mean, std=std),
    ])


def load_rgb(path):
    """torchvision's default_loader (pil_loader): decode, convert to RGB."""
    from PIL import Image
    with open(path, "rb") as f:
        return Image.open(f).convert("RGB")


def exporter():
    spec = importlib.util.spec_from_file_location("export_onnx", EXPORTER)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def run(model, batch, path):
    import torch
    with torch.no_grad():
        logits = model(batch).contiguous()
    logits.numpy().astype("<f4").tofile(path)


def view_head(model):
    """mobilenet_v2 with its flatten written as x.view(x.size(0), -1)."""
    import torch
    import torch.nn.functional as F

    class ViewHead(torch.nn.Module):
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, x):
            x = F.adaptive_avg_pool2d(self.m.features(x), (1, 1))
            return self.m.classifier(x.view(x.size(0), -1))

    return ViewHead(model).eval()


def write_models(outdir, batch, custom_batch, calib):
    exp = exporter()
    done = {}
    for stem, name, opset, forms in MODELS:
        model = (done[name] if name in done
                 else exp.build_model(name, SEED, calib))
        exp.export(view_head(model) if "view" in forms else model,
                   os.path.join(outdir, stem + ".onnx"), opset,
                   fold="raw" not in forms, keep_bn="bn" in forms)
        if name not in done:
            run(model, batch, os.path.join(outdir, name + ".logits"))
            done[name] = model
        print("exported %s (opset %d%s)"
              % (stem, opset, "".join(", " + f for f in forms)))
    run(done["mobilenet_v2"], custom_batch,
        os.path.join(outdir, "mobilenet_v2.custom.logits"))


def prep_images(shared, paths):
    """(name, PIL RGB image) pairs for the preprocessing comparison."""
    from PIL import Image
    items = [(os.path.basename(p)[:-4], load_rgb(p)) for p in paths]
    for n in ("parrot.jpg", "cat_720p.jpg", "grace_hopper.bmp",
              "sunflower.bmp"):
        items.append((n.split(".")[0], load_rgb(
            os.path.join(shared, "data", "images", n))))
    base = items[0][1]
    for w, h in ((150, 200), (300, 97), (1000, 260), (224, 224),
                 (256, 256), (257, 333), (641, 481), (1601, 1200)):
        # BICUBIC here only makes a varied test picture of that size.
        items.append(("var_%dx%d" % (w, h),
                      base.resize((w, h), Image.BICUBIC)))
    return items


def write_prep(outdir, items):
    os.makedirs(os.path.join(outdir, "prep"), exist_ok=True)
    t = transform()
    lines = []
    for name, img in items:
        with open(os.path.join(outdir, "prep", name + ".rgb"), "wb") as f:
            f.write(img.tobytes())
        x = t(img).contiguous().numpy().astype("<f4")
        x.tofile(os.path.join(outdir, "prep", name + ".chw"))
        lines.append("%s %d %d\n" % (name, img.width, img.height))
    with open(os.path.join(outdir, "prep.txt"), "w") as f:
        f.writelines(lines)


def main():
    if len(sys.argv) != 3:
        fail("usage: torch_reference.py OUTDIR SHARED_DIR", 2)
    outdir, shared = sys.argv[1], sys.argv[2]
    os.makedirs(outdir, exist_ok=True)
    skipped = os.path.join(outdir, "SKIPPED")
    try:
        import torch
        import torchvision  # noqa: F401
        from PIL import Image  # noqa: F401
    except ImportError as e:
        if os.environ.get("CI"):
            fail("CI is set but PyTorch is missing: %s" % e)
        with open(skipped, "w") as f:
            f.write("python3-torch/torchvision missing: %s\n" % e)
        print("SKIP: %s" % e, file=sys.stderr)
        return SKIP
    if os.path.exists(skipped):
        os.unlink(skipped)
    stamp = os.path.join(outdir, "stamp")
    want = stamp_text(torch.__version__)
    need = [m[0] + ".onnx" for m in MODELS] + ["images.txt", "prep.txt"]
    complete = all(os.path.exists(os.path.join(outdir, n)) for n in need)
    if complete and os.path.exists(stamp) and open(stamp).read() == want:
        print("up to date: %s" % outdir)
        return 0
    if os.path.exists(stamp):
        os.unlink(stamp)
    torch.manual_seed(0)
    torch.set_num_threads(2)
    paths = photos(shared)
    with open(os.path.join(outdir, "images.txt"), "w") as f:
        f.writelines(p + "\n" for p in paths)
    t = transform()
    batch = torch.stack([t(load_rgb(p)) for p in paths])
    tc = transform(*CUSTOM)
    custom_batch = torch.stack([tc(load_rgb(p)) for p in paths])
    calib = torch.stack([t(load_rgb(p)) for p in photos(shared, False)])
    write_models(outdir, batch, custom_batch, calib)
    write_prep(outdir, prep_images(shared, paths))
    with open(stamp, "w") as f:
        f.write(want)
    return 0


if __name__ == "__main__":
    sys.exit(main())
