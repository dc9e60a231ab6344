// ort_cold.js MODEL.onnx INPUT.f32 [THREADS] — cold-start probe for `make bench`:
// load onnxruntime-node, create a CPU session of THREADS (default 1) intra-op
// threads, run one [1,3,224,224]
// float32 input (the tensor `scanlite preprocess` writes: ORT has no image
// decoder) and print the top class. bench.py times process start -> this line.
'use strict';

const fs = require('node:fs');
const ort = require('onnxruntime-node');

async function main() {
  const [model, input, threads] = process.argv.slice(2);
  const session = await ort.InferenceSession.create(model, {
    executionProviders: ['cpu'],
    intraOpNumThreads: Number(threads || 1),
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
    executionMode: 'sequential',
  });
  const buf = fs.readFileSync(input);
  const data = new Float32Array(buf.length / 4);
  Buffer.from(data.buffer).set(buf);
  const x = new ort.Tensor('float32', data, [1, 3, 224, 224]);
  const y = (await session.run({ [session.inputNames[0]]: x }))[session.outputNames[0]].data;
  let best = 0;
  for (let i = 1; i < y.length; i++) if (y[i] > y[best]) best = i;
  process.stdout.write(`class ${best} ${y[best].toFixed(4)}\n`);
}

main().catch((e) => {
  process.stderr.write(`ort_cold: ${e && e.message ? e.message : e}\n`);
  process.exit(1);
});
