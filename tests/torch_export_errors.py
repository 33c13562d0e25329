#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""torch_export_errors.py - scripts/export-onnx.py's refusals (CTest).

usage: tests/torch_export_errors.py TMPDIR

Each bad command line must exit non-zero with a message on stderr that
says what is wrong, and leave no output file behind:
  --opset 9 / 18           exit 2, "--opset must be from 11 to 17"
  --model vgg16            exit 2, argparse names the choices
  --seed -1                exit 2, "--seed must be 0 or more"
  no --out                 exit 2, "--out"
  --calibrate MISSING      exit 2, "--calibrate" and the path (needs
                           PyTorch: skipped without it)
  --out NO-SUCH-DIR/x      exit 1, "exporting MODEL to PATH failed" (the
                           same)
Exit 0 if all behave, 1 if one does not.
"""
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
EXPORTER = os.path.join(HERE, "..", "scripts", "export-onnx.py")


def check(args, code, want, out):
    p = subprocess.run(["/usr/bin/python3", EXPORTER] + args,
                       capture_output=True, text=True)
    ok = p.returncode == code and want in p.stderr and \
        not os.path.exists(out)
    print("%s: %s -> exit %d%s" % ("ok" if ok else "FAIL", " ".join(args),
                                   p.returncode,
                                   "" if ok else ", stderr: " + p.stderr))
    return ok


def main():
    tmp = sys.argv[1]
    os.makedirs(tmp, exist_ok=True)
    out = os.path.join(tmp, "export_errors.onnx")
    if os.path.exists(out):
        os.unlink(out)
    cases = [
        (["--opset", "9", "--out", out], 2, "--opset must be from 11 to 17"),
        (["--opset", "18", "--out", out], 2, "--opset must be from 11 to 17"),
        (["--model", "vgg16", "--out", out], 2, "invalid choice: 'vgg16'"),
        (["--seed", "-1", "--out", out], 2, "--seed must be 0 or more"),
        ([], 2, "--out"),
    ]
    try:
        import torch  # noqa: F401
        missing = os.path.join(tmp, "no-such-photo.jpg")
        cases.append((["--calibrate", missing, "--out", out], 2,
                       "--calibrate: [Errno 2] No such file or directory: "
                       "'%s'" % missing))
        bad_out = os.path.join(tmp, "no-such-dir", "x.onnx")
        cases.append((["--model", "resnet18", "--out", bad_out], 1,
                      "exporting resnet18 to %s failed" % bad_out))
    except ImportError:
        print("skip: --calibrate (no PyTorch)")
    ok = all([check(a, c, w, out) for a, c, w in cases])
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
