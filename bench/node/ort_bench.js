// SPDX-License-Identifier: Apache-2.0
// ort_bench.js - ONNX Runtime (onnxruntime-node, CPU execution provider)
// running a float ONNX model: inference alone, the anchor bench/run sets
// imgstream's inference against.
//
//   node bench/node/ort_bench.js --model FILE --input FILE --threads N
//        --batch B [--seconds S] [--first 1]
//
// --input holds preprocessed images as raw little-endian float32 NCHW
// 3x224x224 (bench/torch_stack.py --dump writes it: the first flowers,
// transformed by torchvision); the first B of them form the batch (the
// model's batch axis must be dynamic for B > 1). The session has
// intraOpNumThreads N, one inter-op thread, sequential execution and every
// graph optimization: ONNX Runtime's own fastest CPU settings.
//
// One warm-up run, then runs of the same batch until --seconds (default 5)
// have passed. Prints one JSON object: images_per_s, images, seconds,
// load_s (session creation), first_result_s (creation + first run: what a
// service waits before its first answer), peak_rss_mib (this process's
// maximum RSS), ort version, threads, batch. --first 1 stops after the
// first result (bench/run times the whole process: model load to first
// result, as `imgstream classify` of one image is timed).
'use strict';
const fs = require('fs');
const ort = require('onnxruntime-node');

function parseArgs(argv) {
  const a = { seconds: 5, threads: 1, batch: 1, first: 0 };
  for (let i = 2; i < argv.length; i += 2) {
    const k = argv[i].replace(/^--/, '');
    if (!(k in { model: 1, input: 1, threads: 1, batch: 1, seconds: 1,
                 first: 1 }) ||
        i + 1 >= argv.length) {
      throw new Error(`usage: ort_bench.js --model F --input F --threads N ` +
                      `--batch B [--seconds S] (bad: ${argv[i]})`);
    }
    a[k] = ['model', 'input'].includes(k) ? argv[i + 1] : Number(argv[i + 1]);
  }
  if (!a.model || !a.input) throw new Error('--model and --input needed');
  return a;
}

async function main() {
  const a = parseArgs(process.argv);
  const per = 3 * 224 * 224;
  const raw = fs.readFileSync(a.input);
  const all = new Float32Array(raw.buffer, raw.byteOffset, raw.length / 4);
  if (all.length < a.batch * per) {
    throw new Error(`${a.input} holds ${all.length / per} images, ` +
                    `batch ${a.batch} needs more`);
  }
  const t0 = process.hrtime.bigint();
  const session = await ort.InferenceSession.create(a.model, {
    executionProviders: ['cpu'],
    intraOpNumThreads: a.threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  });
  const t1 = process.hrtime.bigint();
  const data = all.slice(0, a.batch * per);
  const feeds = {
    [session.inputNames[0]]: new ort.Tensor('float32', data,
                                            [a.batch, 3, 224, 224]),
  };
  await session.run(feeds); // warm-up, and the first result
  const t2 = process.hrtime.bigint();
  if (a.first) {
    process.stdout.write(JSON.stringify({
      first_result_s: Number(t2 - t0) / 1e9,
      peak_rss_mib: process.resourceUsage().maxRSS / 1024,
    }) + '\n');
    return;
  }
  let done = 0;
  const start = process.hrtime.bigint();
  let elapsed = 0;
  do {
    await session.run(feeds);
    done += a.batch;
    elapsed = Number(process.hrtime.bigint() - start) / 1e9;
  } while (elapsed < a.seconds);
  const out = {
    images_per_s: done / elapsed,
    images: done,
    seconds: elapsed,
    load_s: Number(t1 - t0) / 1e9,
    first_result_s: Number(t2 - t0) / 1e9,
    peak_rss_mib: process.resourceUsage().maxRSS / 1024,
    ort: ort.env.versions ? ort.env.versions.node : 'unknown',
    threads: a.threads,
    batch: a.batch,
  };
  process.stdout.write(JSON.stringify(out) + '\n');
  await session.release();
}

main().catch((e) => {
  process.stderr.write(`ort_bench: ${e.message}\n`);
  process.exit(1);
});
