# SPDX-License-Identifier: Apache-2.0
"""measure.py - every measurement of bench/run, into one JSON file.

    /usr/bin/python3 bench/measure.py --build DIR --out FILE
        [--runs R] [--scale F] [--onnx FILE] [--no-profile]

bench/run calls it after building; bench/report.py turns FILE into
docs/BENCHMARKS.md. What it runs (threads 1 and 2 each, the shared flowers,
../shared/data/flowers, for every system):

  the user's stack   bench/torch_stack.py: Pillow + torchvision transforms
                     + MobileNetV2 in PyTorch through a DataLoader, batch 1
                     (the user's job) and 16, eager and TorchScript-tuned;
                     the DataLoader alone (decode + transforms)
  ONNX Runtime       bench/node/ort_bench.js: --onnx (float MobileNetV2,
                     scripts/export-onnx.py), inference alone, batch 1, 16
  imgstream          bench_classify (decode + preprocess, inference batch 1
                     and 16, in-memory end to end) for the uint8 TFLite
                     model and, when `imgstream classify` takes it, the
                     same ONNX file (else the float TFLite model stands in
                     and the report says so); `imgstream classify` on the
                     430 files twice over (end to end, from the process's
                     start: model load and file reads included); `imgstream
                     stream` from an empty dir:// bucket while `imgstream
                     produce --interval 0` fills it (JSONL sink, checkpoint,
                     16 files per trigger): images/s from the first landing
                     to the last row, latency percentiles from the rows

Then, per run, the same 2-thread inference (imgstream: bench_macs --time;
ONNX Runtime) and `imgstream classify` again while a shell busy loop holds
one core: what another tenant of a shared machine does to each system.

Every such measurement is repeated --runs times (default 3), the systems
interleaved within each run, so load from other users of the machine falls
on all of them alike. Once per invocation: bench_peak (FMA / VNNI peak),
bench_macs (MACs per image from the loaded graphs; torch_stack.py --macs
for PyTorch's), bench_preprocess (resize + crop alone), model load to first
result (classify on one image, 3 times), a diagnosis (bench_classify
--backend auto/nopw/xnnpack/onednn at 2 threads with and without a busy core;
the float model's images/s at batch 1, 2, 4, 16 on one thread), and with
perf available a `perf record` of imgstream's and ONNX Runtime's float
inference, imgstream's uint8 inference, and the latter on 2 threads with
a busy core (the rows imgstream may trail). --scale multiplies every measurement's duration
(bench/run --quick: 0.5).

Output: {"machine": ..., "config": ..., "peak": ..., "macs": ...,
"samples": [{"system", "model", "stage", "threads", "batch",
"images_per_s", "peak_rss_mib", ...}], "once": {...}, "profiles": {...}}.
"""
import argparse
import datetime
import glob
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.environ.get("IMGSTREAM_SHARED", os.path.join(ROOT, "..", "shared"))
DATA = os.path.join(SHARED, "data", "flowers")
QUANT = os.path.join(SHARED, "models", "mobilenet_v2_1.0_224_quant.tflite")
LABELS = os.path.join(SHARED, "models", "imagenet_class_index.json")
PY = "/usr/bin/python3"
THREADS = (1, 2)


def log(msg):
    sys.stderr.write("[measure %s] %s\n" % (time.strftime("%H:%M:%S"), msg))
    sys.stderr.flush()


def run(cmd, timeout=900, stdin=None, env=None):
    """Run cmd; return (rc, stdout, stderr, wall seconds, peak RSS MiB)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        p = subprocess.Popen(cmd, stdout=out, stderr=err, stdin=stdin,
                             env=env)
        deadline = t0 + timeout
        while True:
            pid, status, ru = os.wait4(p.pid, os.WNOHANG)
            if pid != 0:
                break
            if time.perf_counter() > deadline:
                p.kill()
                pid, status, ru = os.wait4(p.pid, 0)
                break
            time.sleep(0.01)
        wall = time.perf_counter() - t0
        p.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return (p.returncode, out.read().decode(errors="replace"),
                err.read().decode(errors="replace"), wall,
                ru.ru_maxrss / 1024.0)


def json_line(text):
    for line in reversed(text.strip().splitlines()):
        line = line.strip()
        if line.startswith("{"):
            return json.loads(line)
    raise ValueError("no JSON in output: %r" % text[-400:])


def percentile(values, q):
    v = sorted(values)
    if not v:
        return None
    i = min(len(v) - 1, max(0, int(round(q * (len(v) - 1)))))
    return v[i]


def machine():
    lscpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    info = {}
    for line in lscpu.splitlines():
        k, _, v = line.partition(":")
        info[k.strip()] = v.strip()
    flags = info.get("Flags", "").split()
    with open("/proc/meminfo") as f:
        mem_kib = int(f.readline().split()[1])
    return {
        "model": info.get("Model name", platform.processor()),
        "vendor": info.get("Vendor ID", ""),
        "family": info.get("CPU family", ""),
        "cpus": os.cpu_count(),
        "mem_gib": round(mem_kib / 1048576, 1),
        "avx512": "avx512f" in flags, "avx512_vnni": "avx512_vnni" in flags,
        "kernel": platform.release(),
        "os": distro(),
        "date": datetime.datetime.now(datetime.timezone.utc)
                .strftime("%Y-%m-%d %H:%M UTC"),
        "loadavg_start": loadavg(),
        "busy_start": busy_share(),
    }


def distro():
    try:
        with open("/etc/os-release") as f:
            for line in f:
                if line.startswith("PRETTY_NAME="):
                    return line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return platform.system()


def loadavg():
    with open("/proc/loadavg") as f:
        return [float(x) for x in f.read().split()[:3]]


def cpu_times():
    """(busy, total) jiffies of all CPUs from /proc/stat."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + (v[4] if len(v) > 4 else 0)  # idle + iowait
    return sum(v) - idle, sum(v)


def busy_share(seconds=5.0):
    """Share of the CPUs other processes keep busy over `seconds`, before
    anything is measured. Unlike the load average, it does not remember
    the build bench/run has just finished."""
    b0, t0 = cpu_times()
    time.sleep(seconds)
    b1, t1 = cpu_times()
    return round((b1 - b0) / max(t1 - t0, 1), 3)


class Bench:
    def __init__(self, args):
        self.a = args
        self.build = os.path.abspath(args.build)
        self.tool = os.path.join(self.build, "imgstream")
        self.bench = os.path.join(self.build, "bench")
        self.samples = []
        self.notes = []
        self.tmp = tempfile.mkdtemp(prefix="imsbench.")
        self.files = sorted(glob.glob(os.path.join(DATA, "*", "*")))
        self.tensors = os.path.join(self.tmp, "x16.f32")

    def secs(self, s):
        return max(0.5, s * self.a.scale)

    def add(self, **kw):
        kw.setdefault("run", self.run_index)
        kw["loadavg"] = loadavg()[0]
        self.samples.append(kw)

    # ---------------------------------------------------------- once
    def imgstream_models(self):
        """(name, path, element) of every imgstream model measured."""
        models = [("uint8 TFLite", QUANT, "int8")]
        onnx = self.a.onnx
        self.onnx_ok = False
        if onnx and os.path.exists(onnx):
            one = self.files[0]
            rc, out, err, _, _ = run([self.tool, "classify", "--model", onnx,
                                      "--json", one], timeout=120)
            self.onnx_ok = rc == 0 and '"top"' in out
            if not self.onnx_ok:
                self.notes.append(
                    "imgstream cannot run the ONNX file in this build "
                    "(`imgstream classify --model %s` said: %s); its float "
                    "rows use the float TFLite model (the uint8 model "
                    "dequantized: same network shape, same MACs)" %
                    (os.path.basename(onnx),
                     (err.strip().splitlines() or ["exit %d" % rc])[-1]))
        if self.onnx_ok:
            models.append(("float ONNX", onnx, "f32"))
        else:
            flt = os.path.join(self.build, "mobilenet_v2_float.tflite")
            if os.path.exists(flt):
                models.append(("float TFLite", flt, "f32"))
        return models

    def once(self):
        res = {}
        log("peak (bench_peak)")
        rc, out, err, _, _ = run([os.path.join(self.bench, "bench_peak"),
                                  "--json", "--seconds",
                                  str(self.secs(1.0))])
        self.peak = json_line(out)
        self.peaks = [json.loads(json.dumps(self.peak))]
        log("MACs (bench_macs, torch_stack.py --macs)")
        self.macs = {}
        for name, path, _ in self.models:
            rc, out, err, _, _ = run([os.path.join(self.bench, "bench_macs"),
                                      "--json", path])
            if rc == 0:
                self.macs[name] = json_line(out)
        if self.a.onnx and os.path.exists(self.a.onnx) and \
                "float ONNX" not in self.macs:
            rc, out, _, _, _ = run([os.path.join(self.bench, "bench_macs"),
                                    "--json", self.a.onnx])
            if rc == 0:
                self.macs["float ONNX"] = json_line(out)
        rc, out, err, _, _ = run([PY, os.path.join(ROOT, "bench",
                                                   "torch_stack.py"),
                                  "--macs"])
        self.macs["PyTorch MobileNetV2"] = json_line(out)
        log("preprocessing alone (bench_preprocess)")
        rc, out, err, _, _ = run([os.path.join(self.bench,
                                               "bench_preprocess"),
                                  "--data", DATA, "--rounds",
                                  str(max(2, int(5 * self.a.scale)))])
        res["bench_preprocess"] = out.strip()
        log("load to first result")
        first = []
        for name, path, _ in self.models:
            walls = []
            for _ in range(3):
                rc, out, err, wall, rss = run([self.tool, "classify",
                                               "--model", path, "--threads",
                                               "2", "--json",
                                               self.files[0]])
                if rc == 0:
                    walls.append(wall)
            first.append({"model": name, "seconds": walls})
        if self.a.onnx and os.path.exists(self.a.onnx):
            walls = []
            for _ in range(3):
                rc, out, err, wall, rss = run(
                    ["node", os.path.join(ROOT, "bench", "node",
                                          "ort_bench.js"),
                     "--model", self.a.onnx, "--input", self.tensors,
                     "--threads", "2", "--batch", "1", "--first", "1"])
                if rc == 0:
                    walls.append(wall)
            first.append({"model": "ONNX Runtime float", "seconds": walls})
        res["first_result"] = first
        return res

    def peak_once(self):
        """bench_peak again; the report keeps the best figure of the run
        (the hardware's peak does not change; other load only lowers a
        measurement)."""
        rc, out, err, _, _ = run([os.path.join(self.bench, "bench_peak"),
                                  "--json", "--seconds",
                                  str(self.secs(1.0))])
        if rc != 0:
            return
        p = json_line(out)
        self.peaks.append(p)
        for kind in ("f32", "int8"):
            for t, v in p[kind]["gmacs"].items():
                if v > self.peak[kind]["gmacs"].get(t, 0):
                    self.peak[kind]["gmacs"][t] = v

    # ---------------------------------------------------- per run
    def torch(self, t):
        script = os.path.join(ROOT, "bench", "torch_stack.py")
        for mode in ("eager", "tuned"):
            for b in (1, 16):
                s = self.secs(8 if mode == "eager" else 5)
                rc, out, err, wall, rss = run(
                    [PY, script, "--data", DATA, "--threads", str(t),
                     "--batch", str(b), "--seconds", str(s), "--mode",
                     mode])
                if rc != 0:
                    log("torch_stack failed: " + err[-500:])
                    continue
                r = json_line(out)
                self.add(system="pytorch", model="PyTorch " + mode,
                         stage="e2e", threads=t, batch=b,
                         images_per_s=r["images_per_s"],
                         peak_rss_mib=r["peak_rss_mib"],
                         first_result_s=r["first_result_s"],
                         version="torch %s, torchvision %s" %
                         (r["torch"], r["torchvision"]))
        if t == 1:
            rc, out, err, wall, rss = run(
                [PY, script, "--data", DATA, "--threads", "1", "--batch",
                 "16", "--seconds", str(self.secs(4)), "--stage", "prep"])
            if rc == 0:
                r = json_line(out)
                self.add(system="pytorch", model="Pillow + torchvision",
                         stage="prep", threads=1, batch=16,
                         images_per_s=r["images_per_s"],
                         peak_rss_mib=r["peak_rss_mib"])

    def ort(self, t):
        if not self.a.onnx or not os.path.exists(self.a.onnx):
            return
        script = os.path.join(ROOT, "bench", "node", "ort_bench.js")
        for b in (1, 16):
            rc, out, err, wall, rss = run(
                ["node", script, "--model", self.a.onnx, "--input",
                 self.tensors, "--threads", str(t), "--batch", str(b),
                 "--seconds", str(self.secs(4))])
            if rc != 0:
                log("ort_bench failed: " + err[-500:])
                continue
            r = json_line(out)
            self.add(system="ort", model="ONNX Runtime float", stage="infer",
                     threads=t, batch=b, images_per_s=r["images_per_s"],
                     peak_rss_mib=r["peak_rss_mib"],
                     first_result_s=r["first_result_s"],
                     version="onnxruntime-node " + r["ort"])

    def bench_classify(self, t, name, path):
        rc, out, err, wall, rss = run(
            [os.path.join(self.bench, "bench_classify"), "--model", path,
             "--labels", LABELS, "--data", DATA, "--threads", str(t),
             "--seconds", str(self.secs(2))])
        if rc != 0:
            log("bench_classify %s failed: %s" % (name, err[-500:]))
            return
        col = 1 if t == 1 else 2
        stages = {"decode + preprocess": ("prep", 16),
                  "inference, batch 1": ("infer", 1),
                  "inference, batch 16": ("infer", 16),
                  "end to end, batch 16": ("e2e_mem", 16)}
        for line in out.splitlines():
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if len(cells) == 3 and cells[0] in stages:
                stage, b = stages[cells[0]]
                if stage == "prep" and name != "uint8 TFLite":
                    continue  # the same decoder and resize for any model
                self.add(system="imgstream", model=name, stage=stage,
                         threads=t, batch=b, images_per_s=float(cells[col]),
                         peak_rss_mib=rss)

    def classify_cli(self, t, name, path, stage="e2e"):
        files = self.files * 2
        rc, out, err, wall, rss = run(
            [self.tool, "classify", "--model", path, "--threads", str(t),
             "--batch", "16", "--json"] + files)
        if rc != 0:
            log("classify failed: " + err[-300:])
            return
        self.add(system="imgstream", model=name, stage=stage, threads=t,
                 batch=16, images_per_s=len(files) / wall,
                 peak_rss_mib=rss, images=len(files), wall_s=wall)

    def stream(self, t, name, path):
        d = tempfile.mkdtemp(dir=self.tmp)
        bucket = os.path.join(d, "bucket")
        os.makedirs(bucket)
        rows = os.path.join(d, "rows.jsonl")
        cmd = [self.tool, "stream", "--source", "dir://" + bucket, "--model",
               path, "--max-files-per-trigger", "16", "--checkpoint",
               os.path.join(d, "ck"), "--sink", "jsonl:" + rows,
               "--progress", os.path.join(d, "progress.jsonl"), "--threads",
               str(t), "--until-idle", "1500"]
        with tempfile.TemporaryFile() as so, tempfile.TemporaryFile() as se:
            p = subprocess.Popen(cmd, stdout=so, stderr=se)
            time.sleep(1.0)  # model loaded, bucket watched
            prod = subprocess.run(
                [self.tool, "produce", "--from", DATA, "--to",
                 "dir://" + bucket, "--interval", "0", "--seed", "1", "-q"],
                capture_output=True, text=True)
            _, status, ru = os.wait4(p.pid, 0)
            rc = os.waitstatus_to_exitcode(status)
            se.seek(0)
            err = se.read().decode(errors="replace")
        if rc != 0 or prod.returncode != 0:
            log("stream failed: %s %s" % (err[-300:], prod.stderr[-300:]))
            shutil.rmtree(d, ignore_errors=True)
            return
        lat, first_event, last_proc, n = [], None, None, 0
        with open(rows) as f:
            for line in f:
                r = json.loads(line)
                n += 1
                lat.append(r["latency_ms"])
                ev = parse_time(r["event_time"])
                pr = parse_time(r["processing_time"])
                first_event = ev if first_event is None else min(ev,
                                                                 first_event)
                last_proc = pr if last_proc is None else max(pr, last_proc)
        span = (last_proc - first_event).total_seconds()
        self.add(system="imgstream", model=name, stage="stream", threads=t,
                 batch=16, images_per_s=n / span if span > 0 else None,
                 peak_rss_mib=ru.ru_maxrss / 1024.0, images=n,
                 latency_p50_ms=percentile(lat, 0.50),
                 latency_p99_ms=percentile(lat, 0.99),
                 latency_max_ms=max(lat))
        shutil.rmtree(d, ignore_errors=True)

    def contended(self):
        """2 threads while a busy loop holds one core: what a shared
        machine does to each system (inference alone, and classify)."""
        busy = subprocess.Popen(["/bin/sh", "-c", "while :; do :; done"])
        try:
            time.sleep(0.2)
            for name, path, _ in self.models[:1]:
                for b in (1, 16):
                    rc, out, err, _, _ = run(
                        [os.path.join(self.bench, "bench_macs"), "--json",
                         "--time", str(self.secs(3)), "--threads", "2",
                         "--batch", str(b), path])
                    if rc == 0:
                        self.add(system="imgstream", model=name,
                                 stage="infer_busy", threads=2, batch=b,
                                 images_per_s=json_line(out)[
                                     "images_per_s"])
                self.classify_cli(2, name, path, stage="e2e_busy")
            if self.a.onnx and os.path.exists(self.a.onnx):
                script = os.path.join(ROOT, "bench", "node", "ort_bench.js")
                for b in (1, 16):
                    rc, out, err, _, _ = run(
                        ["node", script, "--model", self.a.onnx, "--input",
                         self.tensors, "--threads", "2", "--batch", str(b),
                         "--seconds", str(self.secs(3))])
                    if rc == 0:
                        self.add(system="ort", model="ONNX Runtime float",
                                 stage="infer_busy", threads=2, batch=b,
                                 images_per_s=json_line(out)[
                                     "images_per_s"])
        finally:
            busy.kill()
            busy.wait()

    def diagnosis(self):
        """Once: the uint8 model's inference alone, 2 threads, per
        backend choice, with and without a busy core (bench_classify
        --backend); and the float model's images/s against batch size on
        1 thread (bench_macs --time)."""
        out = {"backends": [], "float_batches": []}
        for busy_on in (False, True):
            busy = subprocess.Popen(["/bin/sh", "-c",
                                     "while :; do :; done"]) \
                if busy_on else None
            try:
                for be in ("auto", "nopw", "xnnpack", "onednn"):
                    rc, o, e, _, _ = run(
                        [os.path.join(self.bench, "bench_classify"),
                         "--model", QUANT, "--labels", LABELS, "--data",
                         DATA, "--threads", "2", "--seconds",
                         str(self.secs(1.5)), "--backend", be])
                    row = {"backend": be, "busy": busy_on}
                    for line in o.splitlines():
                        cells = [x.strip() for x in
                                 line.strip().strip("|").split("|")]
                        if len(cells) == 3 and cells[0].startswith(
                                "inference, batch"):
                            row["batch %s" % cells[0].split()[-1]] = \
                                float(cells[2])
                    out["backends"].append(row)
            finally:
                if busy:
                    busy.kill()
                    busy.wait()
        flt = [m for m in self.models if m[2] == "f32"]
        if flt:
            for b in (1, 2, 4, 16):
                rc, o, e, _, _ = run(
                    [os.path.join(self.bench, "bench_macs"), "--json",
                     "--time", str(self.secs(2)), "--threads", "1",
                     "--batch", str(b), flt[0][1]])
                if rc == 0:
                    out["float_batches"].append(
                        {"batch": b,
                         "images_per_s": json_line(o)["images_per_s"]})
        return out

    # ---------------------------------------------------- profiles
    def profiles(self):
        if self.a.no_profile or shutil.which("perf") is None:
            return {}
        probe = run(["perf", "record", "-e", "cpu-clock", "-o",
                     os.path.join(self.tmp, "probe.data"), "--", "true"])
        if probe[0] != 0:
            self.notes.append("perf record does not work here: no profile")
            return {}
        float_model = [m for m in self.models if m[2] == "f32"]
        out = {}
        jobs = []
        if float_model:
            name, path, _ = float_model[0]
            jobs.append(("imgstream " + name, [
                os.path.join(self.bench, "bench_macs"), "--time",
                str(self.secs(4)), "--threads", "1", "--batch", "16", path]))
        jobs.append(("imgstream uint8 TFLite", [
            os.path.join(self.bench, "bench_macs"), "--time",
            str(self.secs(4)), "--threads", "1", "--batch", "16", QUANT]))
        if self.a.onnx and os.path.exists(self.a.onnx):
            jobs.append(("ONNX Runtime float", [
                "node", os.path.join(ROOT, "bench", "node", "ort_bench.js"),
                "--model", self.a.onnx, "--input", self.tensors,
                "--threads", "1", "--batch", "16", "--seconds",
                str(self.secs(4))]))
        jobs.append(("imgstream uint8 TFLite, 2 threads, one core busy", [
            os.path.join(self.bench, "bench_macs"), "--time",
            str(self.secs(3)), "--threads", "2", "--batch", "16", QUANT]))
        for name, cmd in jobs:
            log("perf record: " + name)
            busy = subprocess.Popen(["/bin/sh", "-c",
                                     "while :; do :; done"]) \
                if "busy" in name else None
            data = os.path.join(self.tmp, "perf.data")
            rc, o, e, _, _ = run(["perf", "record", "-e", "cpu-clock", "-F",
                                  "1999", "-o", data, "--"] + cmd)
            if busy:
                busy.kill()
                busy.wait()
            if rc != 0:
                continue
            rc, rep, e, _, _ = run(["perf", "report", "-i", data, "--stdio",
                                    "--no-children", "--sort", "dso,sym",
                                    "--percent-limit", "1"])
            lines = [ln.rstrip() for ln in rep.splitlines()
                     if ln.strip() and not ln.startswith("#")]
            out[name] = {"cmd": " ".join(os.path.basename(c) if i == 0
                                         else c for i, c in enumerate(cmd)),
                         "top": lines[:25], "result": json_line(o)
                         if "{" in o else None}
        return out

    # ---------------------------------------------------- main
    def main(self):
        mach = machine()
        log("machine: %s, %s cpus, load %s" % (mach["model"], mach["cpus"],
                                               mach["loadavg_start"]))
        self.run_index = 0
        self.models = self.imgstream_models()
        if self.a.onnx and os.path.exists(self.a.onnx):
            rc, out, err, _, _ = run([PY, os.path.join(ROOT, "bench",
                                                       "torch_stack.py"),
                                      "--data", DATA, "--dump",
                                      self.tensors])
            if rc != 0:
                raise SystemExit("tensor dump failed: " + err[-500:])
        once = self.once()
        for r in range(1, self.a.runs + 1):
            self.run_index = r
            for t in THREADS:
                log("run %d/%d, %d thread(s): PyTorch" % (r, self.a.runs, t))
                self.torch(t)
                log("run %d/%d, %d thread(s): ONNX Runtime" %
                    (r, self.a.runs, t))
                self.ort(t)
                for name, path, _ in self.models:
                    log("run %d/%d, %d thread(s): imgstream %s" %
                        (r, self.a.runs, t, name))
                    self.bench_classify(t, name, path)
                    self.classify_cli(t, name, path)
                    self.stream(t, name, path)
            log("run %d/%d: 2 threads with one core busy" % (r, self.a.runs))
            self.contended()
            log("run %d/%d: peak again" % (r, self.a.runs))
            self.peak_once()
        self.run_index = 0
        log("diagnosis: backends, busy core, float batch sizes")
        diag = self.diagnosis()
        profiles = self.profiles()
        mach["loadavg_end"] = loadavg()
        result = {
            "machine": mach,
            "config": {"runs": self.a.runs, "scale": self.a.scale,
                       "data": os.path.relpath(DATA, ROOT),
                       "images": len(self.files),
                       "onnx": self.a.onnx and os.path.relpath(self.a.onnx,
                                                               ROOT),
                       "onnx_source": self.a.onnx_source,
                       "imgstream_models": [[n, os.path.relpath(p, ROOT), e]
                                            for n, p, e in self.models],
                       "imgstream_onnx": self.onnx_ok,
                       "build": os.path.relpath(self.build, ROOT)},
            "peak": self.peak, "peaks": self.peaks, "macs": self.macs,
            "once": once,
            "samples": self.samples, "profiles": profiles,
            "diagnosis": diag,
            "notes": self.notes,
        }
        with open(self.a.out, "w") as f:
            json.dump(result, f, indent=1)
        shutil.rmtree(self.tmp, ignore_errors=True)
        log("wrote " + self.a.out)


def parse_time(s):
    return datetime.datetime.strptime(s.replace("Z", "+0000"),
                                      "%Y-%m-%dT%H:%M:%S.%f%z")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--build", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--scale", type=float, default=1.0)
    p.add_argument("--onnx")
    p.add_argument("--onnx-source", default="scripts/export-onnx.py")
    p.add_argument("--no-profile", action="store_true")
    args = p.parse_args()
    Bench(args).main()


if __name__ == "__main__":
    main()
