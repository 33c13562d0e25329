# SPDX-License-Identifier: Apache-2.0
"""report.py - docs/BENCHMARKS.md and its charts from bench/run's results.

    /usr/bin/python3 bench/report.py [--results docs/bench/results.json]
        [--out docs/BENCHMARKS.md] [--charts docs/bench]

Reads the JSON bench/measure.py wrote (bench/run keeps it as
docs/bench/results.json, so the report can be rebuilt without measuring)
and writes the Markdown report: the machine, the table of images/s (median
and minimum of the runs) with peak RSS and percent of the machine's
measured peak, the ratios imgstream / PyTorch stack and imgstream / ONNX
Runtime (each the median of per-run ratios: both sides measured in the same
run, minutes apart), streaming latency, load to first result, the MAC
count against the FMA / VNNI peak, and for every comparison imgstream
loses, the perf profile measure.py recorded and what would close the gap.
The sections of bench/bench_nats.sh and bench/bench_s3.sh come from
docs/bench/nats.txt and docs/bench/s3.txt when bench/run wrote them (first
line: when they were measured).

Charts: gnuplot (pngcairo), docs/bench/throughput.png (every pipeline,
log scale) and docs/bench/inference.png (inference alone, linear).

The hand-written component analysis lives in docs/BENCHMARKS-notes.md;
this file's static text is the part that holds for any run.
"""
import argparse
import json
import os
import statistics
import subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

EXTRAS = [
    ("nats.txt", "Scale-out over NATS JetStream", "bench/bench_nats.sh"),
    ("s3.txt", "S3 buckets", "bench/bench_s3.sh"),
]


def fmt(v, nd=0):
    if v is None:
        return "-"
    if nd == 0:
        return "%.0f" % v if v >= 10 else "%.1f" % v
    return ("%%.%df" % nd) % v


class Results:
    def __init__(self, r):
        self.r = r
        self.samples = r["samples"]
        self.models = [m[0] for m in r["config"]["imgstream_models"]]
        self.float_name = next((m[0] for m in r["config"]["imgstream_models"]
                                if m[2] == "f32"), None)

    def values(self, field="images_per_s", **key):
        """{run: value} of the samples matching key."""
        out = {}
        for s in self.samples:
            if all(s.get(k) == v for k, v in key.items()) and \
                    s.get(field) is not None:
                out[s["run"]] = s[field]
        return out

    def stat(self, field="images_per_s", **key):
        v = list(self.values(field, **key).values())
        if not v:
            return None
        return {"median": statistics.median(v), "min": min(v),
                "max": max(v), "n": len(v)}

    def ratio(self, a, b, field="images_per_s"):
        """Median over runs of a/b, both from the same run; and range."""
        va, vb = self.values(field, **a), self.values(field, **b)
        rs = [va[k] / vb[k] for k in va if k in vb and vb[k]]
        if not rs:
            return None
        return {"median": statistics.median(rs), "min": min(rs),
                "max": max(rs), "n": len(rs)}

    def macs(self, system, model):
        m = self.r["macs"]
        if system == "imgstream" and model in m:
            return m[model]["macs"], m[model]["element"]
        if system == "imgstream" and model == "float ONNX" and \
                "float ONNX" in m:
            return m["float ONNX"]["macs"], "f32"
        return m["PyTorch MobileNetV2"]["macs"], "f32"

    def peak_pct(self, system, model, threads, ips):
        if ips is None:
            return None
        macs, elem = self.macs(system, model)
        kind = "int8" if elem in ("u8", "i8", "int8") else "f32"
        peak = self.peak(kind, threads)
        if not peak:
            return None
        return 100.0 * ips * macs / 1e9 / peak

    def peak(self, kind, threads):
        """The best figure of the run for `threads`, or `threads` times
        the one-thread figure if that is higher (the cores are alike; a
        2-thread measurement drops when other work holds a core)."""
        g = self.r["peak"][kind]["gmacs"]
        return max(g.get(str(threads), 0), threads * g.get("1", 0))


# The table's rows: (label, key, batch).
def table_rows(res):
    rows = [
        ("**PyTorch eager, the user's job** (Pillow + torchvision + "
         "MobileNetV2, DataLoader)", "e2e",
         dict(system="pytorch", model="PyTorch eager", stage="e2e",
              batch=1)),
        ("PyTorch eager", "e2e",
         dict(system="pytorch", model="PyTorch eager", stage="e2e",
              batch=16)),
        ("PyTorch tuned (TorchScript, frozen, optimize_for_inference)",
         "e2e", dict(system="pytorch", model="PyTorch tuned", stage="e2e",
                     batch=1)),
        ("PyTorch tuned", "e2e",
         dict(system="pytorch", model="PyTorch tuned", stage="e2e",
              batch=16)),
        ("Pillow + torchvision transforms (DataLoader alone)", "prep",
         dict(system="pytorch", model="Pillow + torchvision", stage="prep",
              batch=16)),
        ("ONNX Runtime 1.30, float ONNX", "infer",
         dict(system="ort", stage="infer", batch=1)),
        ("ONNX Runtime 1.30, float ONNX", "infer",
         dict(system="ort", stage="infer", batch=16)),
        ("imgstream decode + preprocess (libjpeg-turbo, Pillow-exact "
         "resize)", "prep",
         dict(system="imgstream", model="uint8 TFLite", stage="prep",
              batch=16)),
    ]
    for m in res.models:
        rows += [
            ("imgstream, %s" % m, "infer",
             dict(system="imgstream", model=m, stage="infer", batch=1)),
            ("imgstream, %s" % m, "infer",
             dict(system="imgstream", model=m, stage="infer", batch=16)),
        ]
    for m in res.models:
        rows += [
            ("imgstream in memory (`ims_classifier`), %s" % m, "e2e",
             dict(system="imgstream", model=m, stage="e2e_mem", batch=16)),
            ("**`imgstream classify`**, %s (from process start, files "
             "read)" % m, "e2e",
             dict(system="imgstream", model=m, stage="e2e", batch=16)),
            ("`imgstream stream`, %s (dir:// bucket, producer at full "
             "rate)" % m, "stream",
             dict(system="imgstream", model=m, stage="stream", batch=16)),
        ]
    return rows


STAGE = {"e2e": "end to end", "prep": "decode + preprocess",
         "infer": "inference alone", "stream": "end to end, streaming"}


def main_table(res):
    out = ["| system | what | batch | 1 thread | 2 threads | "
           "peak RSS MiB (2 thr.) | % of peak (2 thr.) |",
           "| --- | --- | ---: | ---: | ---: | ---: | ---: |"]
    for label, stage, key in table_rows(res):
        cells = []
        s2 = None
        for t in (1, 2):
            s = res.stat(threads=t, **key)
            if t == 2:
                s2 = s
            cells.append("-" if s is None else "%s (%s)" % (
                fmt(s["median"]), fmt(s["min"])))
        if all(c == "-" for c in cells):
            continue
        rss = res.stat("peak_rss_mib", threads=2, **key) or \
            res.stat("peak_rss_mib", threads=1, **key)
        pct = None
        if stage != "prep" and s2 is not None:
            pct = res.peak_pct(key["system"], key.get("model", ""), 2,
                               s2["median"])
        out.append("| %s | %s | %d | %s | %s | %s | %s |" % (
            label, STAGE[stage], key["batch"], cells[0], cells[1],
            fmt(rss["median"]) if rss else "-",
            "%.1f%%" % pct if pct is not None else "-"))
    return "\n".join(out)


def comparisons(res):
    """(group, label, a key, b key, higher_is_better, field)."""
    user = dict(system="pytorch", model="PyTorch eager", stage="e2e",
                batch=1)
    cmp = []
    quant = "uint8 TFLite"
    fl = res.float_name
    for t in (1, 2):
        cli = dict(system="imgstream", model=quant, stage="e2e", batch=16,
                   threads=t)
        cmp.append(("PyTorch", "`imgstream classify` (uint8) / the user's "
                    "job (PyTorch eager, batch 1)", cli,
                    dict(user, threads=t), True, "images_per_s"))
        for mode, b in (("eager", 16), ("tuned", 1), ("tuned", 16)):
            cmp.append(("PyTorch", "`imgstream classify` (uint8) / PyTorch "
                        "%s, batch %d" % (mode, b), cli,
                        dict(system="pytorch", model="PyTorch " + mode,
                             stage="e2e", batch=b, threads=t), True,
                        "images_per_s"))
        if fl:
            cmp.append(("PyTorch", "`imgstream classify` (%s) / PyTorch "
                        "tuned, batch 1 (both float)" % fl,
                        dict(cli, model=fl),
                        dict(system="pytorch", model="PyTorch tuned",
                             stage="e2e", batch=1, threads=t), True,
                        "images_per_s"))
        if t == 1:
            cmp.append(("PyTorch", "decode + preprocess: imgstream / Pillow"
                        " + torchvision", dict(system="imgstream",
                                               model=quant, stage="prep",
                                               batch=16, threads=1),
                        dict(system="pytorch", model="Pillow + torchvision",
                             stage="prep", batch=16, threads=1), True,
                        "images_per_s"))
        for b in (1, 16):
            ort = dict(system="ort", stage="infer", batch=b, threads=t)
            if fl:
                cmp.append(("ONNX Runtime", "inference, %s / ONNX Runtime "
                            "(both float), batch %d" % (fl, b),
                            dict(system="imgstream", model=fl,
                                 stage="infer", batch=b, threads=t), ort,
                            True, "images_per_s"))
            cmp.append(("ONNX Runtime", "inference, uint8 TFLite / ONNX "
                        "Runtime float, batch %d" % b,
                        dict(system="imgstream", model=quant, stage="infer",
                             batch=b, threads=t), ort, True,
                        "images_per_s"))
    for b in (1, 16):
        cmp.append(("busy", "inference, uint8 TFLite / ONNX Runtime float, "
                    "batch %d, one core busy" % b,
                    dict(system="imgstream", model=quant,
                         stage="infer_busy", batch=b, threads=2),
                    dict(system="ort", stage="infer_busy", batch=b,
                         threads=2), True, "images_per_s"))
    # memory: anchors / imgstream, so > 1 means imgstream uses less
    cmp.append(("memory", "peak RSS: PyTorch eager batch 1 / `imgstream "
                "classify` (uint8), 2 threads",
                dict(user, threads=2),
                dict(system="imgstream", model=quant, stage="e2e",
                     batch=16, threads=2), True, "peak_rss_mib"))
    cmp.append(("memory", "peak RSS: ONNX Runtime batch 1 / `imgstream "
                "classify` (uint8), 2 threads",
                dict(system="ort", stage="infer", batch=1, threads=2),
                dict(system="imgstream", model=quant, stage="e2e",
                     batch=16, threads=2), True, "peak_rss_mib"))
    return cmp


def ratio_table(res, group):
    out = ["| ratio | 1 thread | 2 threads |", "| --- | ---: | ---: |"]
    rows = {}
    order = []
    for g, label, a, b, _, field in comparisons(res):
        if g != group:
            continue
        r = res.ratio(a, b, field)
        t = a["threads"]
        if label not in rows:
            rows[label] = {}
            order.append(label)
        rows[label][t] = r
    for label in order:
        cells = []
        for t in (1, 2):
            r = rows[label].get(t)
            cells.append("-" if r is None else "**%.2fx** (%.2f-%.2f)" % (
                r["median"], r["min"], r["max"]) if r["n"] > 1 else
                "-" if r is None else "**%.2fx**" % r["median"])
        out.append("| %s | %s | %s |" % (label, cells[0], cells[1]))
    return "\n".join(out)


def first_result(res):
    """{model: median seconds} of the whole-process first-result runs."""
    return {e["model"]: statistics.median(e["seconds"])
            for e in res.r["once"].get("first_result", []) if e["seconds"]}


def behind(res):
    out = []
    fr = first_result(res)
    ort = fr.get("ONNX Runtime float")
    for m in res.models:
        if m in fr and ort and fr[m] > ort:
            out.append(("model load to first result, %s / ONNX Runtime "
                        "(whole processes; time, lower is better)" % m, 2,
                        {"median": ort / fr[m], "min": ort / fr[m],
                         "max": ort / fr[m], "n": 1}))
    for g, label, a, b, _, field in comparisons(res):
        r = res.ratio(a, b, field)
        if r is not None and r["median"] < 1.0:
            out.append((label, a["threads"], r))
    return out


def chart(res, charts_dir):
    os.makedirs(charts_dir, exist_ok=True)
    made = []
    fl = res.float_name
    specs = {
        "throughput": [
            ("PyTorch eager b1 (user's job)",
             dict(system="pytorch", model="PyTorch eager", stage="e2e",
                  batch=1)),
            ("PyTorch eager b16",
             dict(system="pytorch", model="PyTorch eager", stage="e2e",
                  batch=16)),
            ("PyTorch tuned b1",
             dict(system="pytorch", model="PyTorch tuned", stage="e2e",
                  batch=1)),
            ("PyTorch tuned b16",
             dict(system="pytorch", model="PyTorch tuned", stage="e2e",
                  batch=16)),
            ("imgstream classify float",
             dict(system="imgstream", model=fl, stage="e2e", batch=16)),
            ("imgstream classify uint8",
             dict(system="imgstream", model="uint8 TFLite", stage="e2e",
                  batch=16)),
            ("imgstream stream uint8",
             dict(system="imgstream", model="uint8 TFLite", stage="stream",
                  batch=16)),
        ],
        "inference": [
            ("ONNX Runtime float b1",
             dict(system="ort", stage="infer", batch=1)),
            ("ONNX Runtime float b16",
             dict(system="ort", stage="infer", batch=16)),
            ("imgstream float b1",
             dict(system="imgstream", model=fl, stage="infer", batch=1)),
            ("imgstream float b16",
             dict(system="imgstream", model=fl, stage="infer", batch=16)),
            ("imgstream uint8 b1",
             dict(system="imgstream", model="uint8 TFLite", stage="infer",
                  batch=1)),
            ("imgstream uint8 b16",
             dict(system="imgstream", model="uint8 TFLite", stage="infer",
                  batch=16)),
        ],
    }
    titles = {"throughput": "End to end, images/s (log scale; median of "
                            "runs)",
              "inference": "Inference alone, images/s (median of runs)"}
    for name, rows in specs.items():
        lines = []
        for label, key in rows:
            v = [res.stat(threads=t, **key) for t in (1, 2)]
            if all(x is None for x in v):
                continue
            lines.append('"%s" %s %s' % (label, *[
                "%.2f" % x["median"] if x else "NaN" for x in v]))
        if not lines:
            continue
        data = os.path.join(charts_dir, name + ".dat")
        with open(data, "w") as f:
            f.write("\n".join(lines) + "\n")
        png = os.path.join(charts_dir, name + ".png")
        logscale = "set logscale y\nset yrange [1:*]\n" \
            if name == "throughput" else "set yrange [0:*]\n"
        script = """
set terminal pngcairo size 820,430 font "DejaVu Sans,9"
set output '%s'
set title "%s"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set key top left
set grid ytics
set xtics rotate by 25 right scale 0 nomirror
%s
set ylabel "images/s"
plot '%s' using 2:xtic(1) title '1 thread' lc rgb '#8da0cb', \\
     '' using 3 title '2 threads' lc rgb '#1b4f9c', \\
     '' using 0:3:(sprintf("%%.0f",$3)) with labels offset 1.6,0.6 notitle
""" % (png, titles[name], logscale, data)
        p = subprocess.run(["gnuplot"], input=script, text=True,
                           capture_output=True)
        os.remove(data)
        if p.returncode == 0:
            made.append(name + ".png")
        else:
            print("report.py: gnuplot failed: " + p.stderr)
    return made


def busy_section(res):
    rows = [("imgstream, uint8 TFLite, inference alone", 1,
             dict(system="imgstream", model="uint8 TFLite", stage="infer",
                  batch=1), "infer_busy"),
            ("imgstream, uint8 TFLite, inference alone", 16,
             dict(system="imgstream", model="uint8 TFLite", stage="infer",
                  batch=16), "infer_busy"),
            ("ONNX Runtime, float, inference alone", 1,
             dict(system="ort", stage="infer", batch=1), "infer_busy"),
            ("ONNX Runtime, float, inference alone", 16,
             dict(system="ort", stage="infer", batch=16), "infer_busy"),
            ("`imgstream classify`, uint8 TFLite, end to end", 16,
             dict(system="imgstream", model="uint8 TFLite", stage="e2e",
                  batch=16), "e2e_busy")]
    out = ["| system | batch | 2 threads, machine as is | 2 threads, one "
           "core busy | kept |", "| --- | ---: | ---: | ---: | ---: |"]
    kept = {}
    for label, b, key, busy_stage in rows:
        a = res.stat(threads=2, **key)
        z = res.stat(threads=2, **dict(key, stage=busy_stage))
        if not a or not z:
            continue
        kept[(key["system"], key["stage"], b)] = z["median"] / a["median"]
        out.append("| %s | %d | %s | %s (%s) | %.0f%% |" % (
            label, b, fmt(a["median"]), fmt(z["median"]), fmt(z["min"]),
            100 * z["median"] / a["median"]))
    if len(out) == 2:
        return ""
    text = ["## With one core busy\n",
            "The same 2-thread runs while a shell busy loop (`while :; do "
            ":; done`) holds one of the 2 cores - what another tenant of a "
            "shared machine, or another job on a worker, does. Median "
            "(minimum) of the runs; \"kept\" is the busy figure over the "
            "figure without the loop:\n", "\n".join(out), ""]
    diag = (res.r.get("diagnosis") or {}).get("backends") or []
    if diag:
        text.append("imgstream's uint8 inference alone on 2 threads by "
                    "backend choice (`bench_classify --backend`, once, "
                    "images/s at batch 1 / 16):\n")
        text.append("| backend | machine as is | one core busy |")
        text.append("| --- | ---: | ---: |")
        vnni = res.r["machine"].get("avx512_vnni")
        what = {
            "auto": " (default: %s, imgstream's depthwise kernel, XNNPACK "
                    "for the rest)" % ("oneDNN's VNNI kernels for 1x1 "
                                       "convolutions" if vnni else
                                       "imgstream's AVX2 8-bit 1x1 kernel"),
            "nopw": " (auto, but the 1x1 convolutions %s)" % (
                "as auto: oneDNN's" if vnni else "on XNNPACK"),
            "xnnpack": " (every layer)",
            "onednn": " (every layer%s)" % (
                "" if vnni else "; no exact int8 kernel without VNNI, so "
                "no figure"),
        }
        for be in ("auto", "nopw", "xnnpack", "onednn"):
            if not any(x["backend"] == be for x in diag):
                continue
            cells = []
            for busy in (False, True):
                d = next((x for x in diag if x["backend"] == be and
                          x["busy"] == busy), None)
                cells.append("%s / %s" % (fmt(d.get("batch 1")),
                                          fmt(d.get("batch 16")))
                             if d else "-")
            text.append("| %s%s | %s | %s |" % (be, what[be], cells[0],
                                                cells[1]))
        text.append("")
    ik = kept.get(("imgstream", "infer", 1))
    ok = kept.get(("ort", "infer", 1))
    if ik is not None and ok is not None and ik < ok:
        text.append("""imgstream's engine keeps less of its 2-thread
inference speed than ONNX Runtime when a core is taken (batch 1: %.0f%%
against %.0f%%). The engine splits every layer over a fixed team of 2
threads - XNNPACK's pthreadpool, and oneDNN's OpenMP team for the 1x1
convolutions - and in both the calling thread waits until every thread
of the team has taken part in the layer. With the second thread off the
CPU (the busy loop has its core) that wait can last a scheduler time
slice, milliseconds, at any of the ~60 layer calls per image, and the
waiting thread spins meanwhile (the last profile below: most samples in
libpthreadpool); the backend table shows how each pool alone fares.
ONNX Runtime's thread pool lets the calling thread run work items no
worker has started, so it degrades towards one thread's speed instead.
The end-to-end path suffers less (the `classify` row):
`ims_classifier` runs one single-threaded engine per lane and splits
batches by image, so no layer waits for another thread. What would close
it: in the engine's multi-threaded mode, split a batch by image over
single-threaded sub-engines (as `ims_classifier` does) whenever it has
at least as many images as threads, and for batch 1 a pool whose caller
runs the shards no worker has claimed (pthreadpool does not; oneDNN
would have to be built with its threadpool runtime,
`DNNL_CPU_RUNTIME=THREADPOOL`, to share it).
""" % (100 * ik, 100 * ok))
    return "\n".join(text) + "\n"


def profile_text(res):
    prof = res.r.get("profiles") or {}
    if not prof:
        return "No profile in this run (perf unavailable or --no-profile).\n"
    out = []
    for name, p in prof.items():
        rate = ""
        if p.get("result") and "images_per_s" in p["result"]:
            rate = " (%.0f images/s while profiled)" % \
                p["result"]["images_per_s"]
        elif p.get("result") and "images_per_s" in (p["result"] or {}):
            rate = ""
        out.append("`perf record -e cpu-clock` of %s: `%s`%s; samples by "
                   "shared object and symbol (stripped libraries show "
                   "addresses):\n" % (name, p["cmd"], rate))
        out.append("```\n" + "\n".join(p["top"][:14]) + "\n```\n")
    return "\n".join(out)


def pct_or0(res, system, model, threads, stat):
    if not stat:
        return 0.0
    return res.peak_pct(system, model, threads, stat["median"]) or 0.0


def dso_share(res, name, dso):
    p = (res.r.get("profiles") or {}).get(name)
    if not p:
        return None
    tot = 0.0
    for line in p["top"]:
        parts = line.split()
        if len(parts) >= 2 and parts[0].endswith("%") and dso in parts[1]:
            try:
                tot += float(parts[0].rstrip("%"))
            except ValueError:
                pass
    return tot


def load_note(m):
    """What the CPUs' use before the run (or, from runs that did not
    record it, the load average at the start) says about the figures."""
    busy = m.get("busy_start")
    if busy is not None:
        quiet = busy < 0.1
    else:  # at the end the load average is the run's own work
        quiet = m["loadavg_start"][0] < 0.5 * m["cpus"]
    if quiet:
        return ("The machine was quiet (no other work to speak of), so "
                "the absolute figures hold too; ratios still compare "
                "figures of the same run.")
    return ("**The machine was shared with other work** (other "
            "processes on the same cores: see the load averages), so "
            "absolute figures wobble; the "
            "ratios below compare figures of the same run, minutes apart, "
            "and are what counts.")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--results", default=os.path.join(ROOT, "docs", "bench",
                                                      "results.json"))
    ap.add_argument("--out", default=os.path.join(ROOT, "docs",
                                                  "BENCHMARKS.md"))
    ap.add_argument("--charts", default=os.path.join(ROOT, "docs", "bench"))
    a = ap.parse_args()
    with open(a.results) as f:
        res = Results(json.load(f))
    r = res.r
    m = r["machine"]
    c = r["config"]
    charts = chart(res, a.charts)
    rel = os.path.relpath(a.charts, os.path.dirname(os.path.abspath(a.out)))
    fl = res.float_name
    w = []
    w.append("""<!-- SPDX-License-Identifier: Apache-2.0 -->
# Benchmarks

<!-- Generated by bench/run (bench/report.py from docs/bench/results.json).
     Do not edit: change bench/report.py, or docs/BENCHMARKS-notes.md for
     the hand-written component analysis. -->

imgstream side by side with the user's stack (Pillow + torchvision +
MobileNetV2 in PyTorch) and the fastest CPU runtime we can install (ONNX
Runtime), on the same images (the %d shared flowers, 499x665 JPEG) and the
same thread counts, in one run of one command:

```sh
bench/run            # about 20 minutes; --quick: about 7
```

It installs what it needs (`scripts/install-deps`; `npm ci --ignore-scripts`
of onnxruntime-node into `bench/node/`), builds a RelWithDebInfo tree,
exports the float ONNX file, measures, and rewrites this file and its
charts. Component benchmarks (backends, depthwise kernel, preprocessing
paths, stream triggers) and their analysis:
[BENCHMARKS-notes.md](BENCHMARKS-notes.md).
""" % c["images"])
    w.append("""## This run

- Machine: %s (%s, family %s), %d cores, %.0f GiB, %s, kernel %s;
  AVX-512: %s, AVX-512 VNNI: %s.
- Date: %s. Runs: %d per figure (systems interleaved within each run),
  duration scale %.2g, build `%s`.
- Load average at the start %s, at the end %s%s. %s
- ONNX file: `%s` (%s).
""" % (m["model"], m["vendor"], m["family"], m["cpus"], m["mem_gib"],
       m["os"], m["kernel"], "yes" if m["avx512"] else "no",
       "yes" if m["avx512_vnni"] else "no", m["date"], c["runs"],
       c["scale"], c["build"], " ".join("%.2f" % x for x in
                                        m["loadavg_start"]),
       " ".join("%.2f" % x for x in m["loadavg_end"]),
       "" if m.get("busy_start") is None else
       "; CPUs busy before the first measurement (5 s of /proc/stat): "
       "%.0f%%" % (100 * m["busy_start"]),
       load_note(m), c["onnx"], c["onnx_source"]))
    for n in r.get("notes", []):
        w.append("- **Note:** %s.\n" % n)
    # headline
    def rr(a_, b_, field="images_per_s"):
        x = res.ratio(a_, b_, field)
        return "%.1fx" % x["median"] if x else "n/a"
    cli2 = dict(system="imgstream", model="uint8 TFLite", stage="e2e",
                batch=16, threads=2)
    user2 = dict(system="pytorch", model="PyTorch eager", stage="e2e",
                 batch=1, threads=2)
    tuned2 = dict(system="pytorch", model="PyTorch tuned", stage="e2e",
                  batch=1, threads=2)
    ort16 = dict(system="ort", stage="infer", batch=16, threads=2)
    q16 = dict(system="imgstream", model="uint8 TFLite", stage="infer",
               batch=16, threads=2)
    s_cli = res.stat(**cli2)
    s_user = res.stat(**user2)
    head = ["## Headline (2 threads)\n"]
    if s_cli and s_user:
        head.append(
            "- `imgstream classify` classifies **%s images/s** end to end "
            "(uint8 model, files read, model load included) against the "
            "user's job's **%s** (PyTorch eager, batch 1): **%s**; against "
            "PyTorch tuned by an expert (TorchScript + oneDNN, batch 1): "
            "**%s** (1 thread: %s and %s)." % (
                fmt(s_cli["median"]), fmt(s_user["median"]),
                rr(cli2, user2), rr(cli2, tuned2),
                rr(dict(cli2, threads=1), dict(user2, threads=1)),
                rr(dict(cli2, threads=1), dict(tuned2, threads=1))))
    if res.stat(**ort16):
        head.append(
            "- Inference alone, batch 16: imgstream's uint8 model **%s** "
            "ONNX Runtime's float model%s." % (
                rr(q16, ort16),
                "; on the same float ONNX file: **%s**" % rr(
                    dict(q16, model=fl), ort16) if fl == "float ONNX"
                else "; the same float network (TFLite, see the note): "
                "**%s**" % rr(dict(q16, model=fl), ort16) if fl else ""))
    b = behind(res)
    if b:
        head.append("- imgstream is **behind** on %d comparison(s): %s "
                    "([why](#where-imgstream-is-behind))." % (
                        len(b), "; ".join("%s, %d thread(s) (%.2fx)" % (
                            lab, t, x["median"]) for lab, t, x in b)))
    w.append("\n".join(head) + "\n")
    if "throughput.png" in charts:
        w.append("![End-to-end images/s](%s/throughput.png)\n" % rel)
    w.append("""## Images per second

Median (minimum) of the runs. "End to end" is file or image bytes to
top-1 class; "inference alone" starts from preprocessed tensors. Peak RSS
is the process's maximum resident set (imgstream's in-memory rows hold the
430 encoded images, ~20 MiB). "% of peak" is images/s x multiply-
accumulates per image / the machine's peak MAC rate measured in this run
(float FMA for float rows; for the uint8 model the CPU's 8-bit peak:
VNNI where it has it, else AVX2 vpmaddubsw, what imgstream's 1x1 kernel
runs; see
[The limit](#the-limit-multiply-accumulates-against-the-machines-peak)).

""")
    w.append(main_table(res) + "\n")
    w.append("""
- The PyTorch rows are the user's pipeline as written: a DataLoader (no
  worker processes, so the thread budget is the same as everyone's) over
  an ImageFolder with the four transforms, `torch.set_num_threads(N)`,
  `model.eval()` under `torch.inference_mode()`, random weights (pretrained
  ones cannot be downloaded here; the arithmetic is the same). Debian's
  PyTorch 1.13 runs eager float convolutions without oneDNN, which is why
  the tuned rows (TorchScript, frozen, `optimize_for_inference`: oneDNN
  convolutions) are the fairer PyTorch figure; PyTorch itself gets slower
  at batch 16 here.
- ONNX Runtime (npm `onnxruntime-node`, CPU execution provider,
  `intraOpNumThreads` N, sequential, all graph optimizations) runs
  inference alone on the first 16 flowers as torchvision preprocessed them.
- imgstream's inference and in-memory rows are `bench_classify`; the
  `classify` rows run the CLI on the 430 files twice over (model load and
  file reads included); the `stream` rows start `imgstream stream` (16
  files per trigger, checkpoint, JSONL sink) on an empty `dir://` bucket
  and then `imgstream produce --interval 0` (on the same 2 cores) fills it:
  images/s from the first landing to the last row.
""")
    w.append("## Ratios\n\nMedian of the per-run ratios (range over the "
             "runs in parentheses).\n\nimgstream / the user's PyTorch stack "
             "(end to end):\n\n" + ratio_table(res, "PyTorch") + "\n\n"
             "imgstream / ONNX Runtime (inference alone):\n\n" +
             ratio_table(res, "ONNX Runtime") + "\n\nMemory (anchor / "
             "imgstream: above 1, imgstream uses less):\n\n" +
             ratio_table(res, "memory") + "\n")
    if "inference.png" in charts:
        w.append("![Inference alone, images/s](%s/inference.png)\n" % rel)
    # streaming
    st = ["## Streaming latency\n",
          "`imgstream stream` while the producer uploads all 430 flowers "
          "as fast as it can (so most images wait behind others: these are "
          "backlog latencies, landing to row, not the latency at a steady "
          "rate, which `bench/bench_stream.sh` measures: see "
          "[BENCHMARKS-notes.md](BENCHMARKS-notes.md#streaming-benchstream"
          "sh)). Median over the runs of each figure:\n",
          "| model | threads | images/s | latency p50 ms | p99 ms | max ms |"
          " peak RSS MiB |", "| --- | ---: | ---: | ---: | ---: | ---: | "
          "---: |"]
    for mname in res.models:
        for t in (1, 2):
            k = dict(system="imgstream", model=mname, stage="stream",
                     threads=t)
            s = res.stat(**k)
            if not s:
                continue
            g = [res.stat(f, **k) for f in ("latency_p50_ms",
                                              "latency_p99_ms",
                                              "latency_max_ms",
                                              "peak_rss_mib")]
            st.append("| %s | %d | %s | %s | %s | %s | %s |" % (
                mname, t, fmt(s["median"]), *[fmt(x["median"]) if x else "-"
                                              for x in g]))
    w.append("\n".join(st) + "\n")
    # first result
    fr = ["## Model load to first result\n",
          "| system | what is timed | seconds (median) |",
          "| --- | --- | ---: |"]
    for e in r["once"]["first_result"]:
        if not e["seconds"]:
            continue
        if e["model"].startswith("ONNX Runtime"):
            fr.append("| ONNX Runtime, float ONNX | `node ort_bench.js "
                      "--first 1`: process start (Node, module load), "
                      "session, one run of batch 1, exit | %.3f |" %
                      statistics.median(e["seconds"]))
        else:
            fr.append("| imgstream, %s | `imgstream classify` of one image, "
                      "process start to exit, 2 threads | %.3f |" % (
                          e["model"], statistics.median(e["seconds"])))
    for key, label in ((dict(system="ort", stage="infer", batch=1,
                             threads=2),
                        "ONNX Runtime, in process | session creation + "
                        "first run, batch 1 (Node and the module already "
                        "loaded)"),
                       (dict(system="pytorch", model="PyTorch eager",
                             stage="e2e", batch=1, threads=2),
                        "PyTorch eager | model construction + first batch "
                        "(Python and torch already imported)"),
                       (dict(system="pytorch", model="PyTorch tuned",
                             stage="e2e", batch=1, threads=2),
                        "PyTorch tuned | construction + scripting + "
                        "first batches")):
        s = res.stat("first_result_s", **key)
        if s:
            fr.append("| %s | %.3f |" % (label, s["median"]))
    w.append("\n".join(fr) + "\n")
    w.append(busy_section(res))
    # the limit
    pk = r["peak"]
    lim = ["## The limit: multiply-accumulates against the machine's peak\n",
           "Multiply-accumulates per image, counted from the graph the "
           "library loads (`bench_macs`: convolutions, depthwise "
           "convolutions and fully connected layers), and from PyTorch's "
           "model with forward hooks (`torch_stack.py --macs`):\n",
           "| model | MACs per image | of which 1x1 conv | depthwise | fully "
           "connected | weights |", "| --- | ---: | ---: | ---: | ---: | "
           "--- |"]
    for name, mm in r["macs"].items():
        lim.append("| %s | %.1f M | %s | %s | %s | %s |" % (
            name, mm["macs"] / 1e6,
            "%.1f M" % (mm["conv_1x1"] / 1e6) if "conv_1x1" in mm else "-",
            "%.1f M" % (mm["depthwise"] / 1e6) if "depthwise" in mm else
            "(in conv)", "%.2f M" % (mm["fc"] / 1e6), mm.get("element",
                                                           "f32")))
    lim.append("")
    lim.append("The machine's peak, measured in this run by `bench_peak` "
               "(register-only loops: 12 independent accumulators, no "
               "memory traffic; CPUID-checked, compiled with target "
               "attributes):\n")
    lim.append("| threads | float FMA (%s), GMAC/s | int8 (%s), GMAC/s |" %
               (pk["f32"]["isa"], pk["int8"]["isa"]))
    lim.append("| ---: | ---: | ---: |")
    for t in ("1", "2"):
        lim.append("| %s | %.0f | %.0f |" % (t, pk["f32"]["gmacs"][t],
                                             pk["int8"]["gmacs"][t]))
    best = []
    for mname in res.models:
        for t in (1, 2):
            s = res.stat(system="imgstream", model=mname, stage="infer",
                         batch=16, threads=t)
            if s:
                macs, elem = res.macs("imgstream", mname)
                pct = res.peak_pct("imgstream", mname, t, s["median"])
                best.append("%s, %d thread(s): %.0f images/s = %.0f GMAC/s"
                            " = %s of peak" % (
                                mname, t, s["median"],
                                s["median"] * macs / 1e9,
                                "-" if pct is None else "%.0f%%" % pct))
    lim.append("\nInference alone at batch 16 (median): " +
               "; ".join(best) + ".")
    if pk["int8"]["gmacs"].get("2"):
        lim.append("""
At 100%% of the int8 peak, MobileNetV2's %.0f M MACs would take %.2f ms per
image on 2 cores (%.0f images/s); what keeps every runtime far from that
is known: the 17 depthwise layers (7%% of the MACs) run at a fraction of
the peak because each output needs only 9 products per channel, the
small 1x1 layers (16-32 input channels) cannot keep the int8 units busy,
and activations stream through memory between layers. Percent of peak is
the measure to watch as the kernels improve; images/s is what the user
sees.
""" % (r["macs"][res.models[0]]["macs"] / 1e6,
       r["macs"][res.models[0]]["macs"] / (pk["int8"]["gmacs"]["2"] * 1e9)
       * 1e3, pk["int8"]["gmacs"]["2"] * 1e9 /
       r["macs"][res.models[0]]["macs"]))
    w.append("\n".join(lim) + "\n")
    # behind
    bh = ["## Where imgstream is behind\n"]
    if not b:
        bh.append("Nowhere in this run: every comparison above is at or "
                  "above 1.\n")
    else:
        bh.append("Comparisons below 1 in this run:\n")
        for lab, t, x in b:
            bh.append("- %s, %d thread(s): %.2fx (%.2f-%.2f)" % (
                lab, t, x["median"], x["min"], x["max"]))
        bh.append("")
        float_behind = any("both float" in lab for lab, _, _ in b)
        if float_behind and fl:
            k1 = [res.stat(system="imgstream", model=fl, stage="infer",
                           batch=bb, threads=1) for bb in (1, 16)]
            o1 = [res.stat(system="ort", stage="infer", batch=bb,
                           threads=1) for bb in (1, 16)]
            k2 = [res.stat(system="imgstream", model=fl, stage="infer",
                           batch=bb, threads=2) for bb in (1, 16)]
            o2 = [res.stat(system="ort", stage="infer", batch=bb,
                           threads=2) for bb in (1, 16)]
            xs = dso_share(res, "imgstream " + fl, "XNNPACK")
            sweep = (r.get("diagnosis") or {}).get("float_batches") or []
            sweep_txt = ", ".join("batch %d: %s" % (x["batch"],
                                                    fmt(x["images_per_s"]))
                                  for x in sweep)
            prof_name = "imgstream " + fl
            own = sum(dso_share(res, prof_name, d) or 0
                      for d in ("bench_macs",))
            bh.append("""**Float inference against ONNX Runtime.** Both run
the same float ONNX file. imgstream lowers it to its NHWC graph and runs
the 1x1 convolutions (~90%% of the multiply-adds) on oneDNN's JIT f32
GEMM, the other dense convolutions (the first layer) on oneDNN's direct
JIT convolution, and the depthwise and small layers on XNNPACK (Debian's
2022-02 snapshot); ONNX Runtime runs everything on its MLAS kernels.
Images/s, inference alone, median of this run:

| | batch 1, 1 thread | batch 16, 1 thread | batch 1, 2 threads | batch 16, 2 threads |
| --- | ---: | ---: | ---: | ---: |
| imgstream | %s | %s | %s | %s |
| ONNX Runtime | %s | %s | %s | %s |

imgstream's float model on one thread by batch size (`bench_macs --time`,
once): %s. The profile below (1 thread, batch 16) puts at least %s of
the samples in XNNPACK's code and %.0f%% in imgstream's own (the engine's
glue); most of the rest is oneDNN's. At about %.0f%% against %.0f%% of the
machine's float FMA peak on one thread, what is left is in the kernels
and in memory traffic. The engine runs a batch image by image (one
image's activations stay in cache between layers; a batch of 16 would
hold 16 x 4.8 MB at the widest layer), and on threads it gives each
thread its own share of the batch on a one-thread copy of the engine, so
no thread waits for another between layers. What would close the rest:
(1) fusing each depthwise 3x3 layer with its neighbouring 1x1
convolutions, so the expanded activations (6x the channels) never leave
the cache; (2) for one image on 2 threads, where each of the ~65 layers
is split over both threads and ends waiting for both: oneDNN's f32 GEMM
gains nothing from the split on the 24- and 32-channel expansion layers
(measured per layer), so those would need a split by output channels.
The uint8 model - the default, whose results match the reference
(docs/ACCURACY.md) - runs at %s ONNX Runtime's float speed at batch 16
on 2 threads.
""" % tuple([fmt(x["median"]) if x else "-" for x in
             (k1[0], k1[1], k2[0], k2[1], o1[0], o1[1], o2[0], o2[1])] +
            [sweep_txt or "not measured", "%.0f%%" % xs if xs else "most",
             own,
             pct_or0(res, "imgstream", fl, 1, k1[1]),
             pct_or0(res, "ort", "", 1, o1[1]),
             rr(q16, ort16)]))
        fr_b = [x for x in b if x[0].startswith("model load")]
        if fr_b:
            bh.append("""**Model load to first result.** imgstream reads the
ONNX file, converts every weight from NCHW to NHWC and folds batch
normalization at load, and XNNPACK packs the weights again when the
engine is created; in this VM page faults (first touch of each copy) are
a large part of that time. Loading the converted model once per process
is what `stream` does, so this costs once per worker; what would shrink
it: convert in place into the final packed layout (one copy instead of
three), or cache the converted graph next to the ONNX file.
""")
        other = [x for x in b if "both float" not in x[0] and
                 "busy" not in x[0] and not x[0].startswith("model load")]
        q8_other = [x for x in other if "uint8" in x[0]]
        if q8_other and not r["machine"].get("avx512_vnni"):
            bh.append("""**The uint8 model on a CPU without VNNI.** This CPU
has no AVX-512 VNNI (or AVX-VNNI), so 8-bit layers run on XNNPACK's AVX2
kernels, which widen to 16 bits (vpmaddwd: 16 multiply-adds per
instruction); oneDNN's int8 kernels for such CPUs multiply with
vpmaddubsw, whose 16-bit sums saturate, so imgstream never uses them
(results must match the reference). On VNNI CPUs the same layers run
on oneDNN at 1.7-3.5x (measured on a 2-core AMD EPYC Zen 5 with AVX-512
VNNI, 2026-11-25: docs/BENCHMARKS-notes.md). What would close the
gap here: an AVX2 8-bit 1x1 kernel of imgstream's own, like its
depthwise one, or a newer XNNPACK than Debian's 2022 snapshot; meanwhile
the float model, with its 1x1 layers on oneDNN, is the faster choice on
such a CPU (the table above).
""")
            other = [x for x in other if "uint8" not in x[0]]
        if other:
            bh.append("Other rows behind in this run (%s): no analysis is "
                      "written for them; where the two sides are within a "
                      "few percent, run-to-run noise on the shared machine "
                      "(see the ranges) can decide the sign.\n" %
                      "; ".join("%s, %d thread(s)" % (lab, t)
                                for lab, t, _ in other))
    busy_b = [x for x in b if "busy" in x[0]]
    if busy_b:
        bh.append("**With one core busy**: see [the section above]"
                  "(#with-one-core-busy) and the last profile below "
                  "(libgomp and XNNPACK spinning against each other).\n")
    bh.append("### Profiles\n")
    bh.append(profile_text(res))
    w.append("\n".join(bh) + "\n")
    # extras
    for fname, title, script in EXTRAS:
        path = os.path.join(a.charts, fname)
        if not os.path.exists(path):
            continue
        with open(path) as f:
            text = f.read()
        first, _, body = text.partition("\n")
        w.append("## %s (`%s`)\n\n%s. Its own report and analysis: "
                 "docs/SCALING.md.\n\n```\n%s\n```\n" % (
                     title, script, first.strip(), body.strip()))
    w.append("""## Reproducing one figure

```sh
cmake --build build --target bench_classify bench_macs bench_peak
build/bench/bench_classify --threads 2 --seconds 3   # imgstream rows
build/bench/bench_macs --time 3 --threads 2 --batch 16 MODEL  # + GMAC/s
build/bench/bench_peak                                # the machine's peak
/usr/bin/python3 bench/torch_stack.py --data ../shared/data/flowers \\
    --threads 2 --batch 1 --mode eager                # the user's job
node bench/node/ort_bench.js --model FILE.onnx --input TENSORS \\
    --threads 2 --batch 16                            # ONNX Runtime
/usr/bin/python3 bench/report.py                      # this file again
```
""")
    with open(a.out, "w") as f:
        f.write("\n".join(w))
    print("report.py: wrote %s (%s)" % (a.out, ", ".join(charts)))


if __name__ == "__main__":
    main()
