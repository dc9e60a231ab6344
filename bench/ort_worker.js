// ort_worker.js — the ONNX Runtime side of `make bench`: a long-lived
// process driven by bench.py with one JSON request per stdin line, one JSON
// reply per stdout line. Requests:
//   {"op":"time","model":M,"threads":T,"input":F,"shape":[N,C,H,W],"warmup":W,"iters":K}
//       -> {"ok":true,"median_ms","min_ms","max_ms"}  (K timed session.run calls)
//   {"op":"infer", ...same..., "output":F2} -> {"ok":true,"out_shape":[...]}
//       (writes the first output as raw little-endian float32 to F2)
//   {"op":"quit"}
// F is raw float32 NCHW. Sessions are cached per model/threads pair for the
// whole run, so a repetition does not pay session creation again.
'use strict';

const fs = require('node:fs');
const readline = require('node:readline');
const ort = require('onnxruntime-node');

const sessions = new Map();

async function getSession(model, threads) {
  const key = model + '|' + threads;
  if (sessions.has(key)) return sessions.get(key);
  const session = await ort.InferenceSession.create(model, {
    executionProviders: ['cpu'],
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
    executionMode: 'sequential',
  });
  sessions.set(key, session);
  return session;
}

function loadInput(path, shape) {
  const buf = fs.readFileSync(path);
  const n = shape.reduce((a, b) => a * b, 1);
  if (buf.length !== n * 4) throw new Error(`${path}: ${buf.length} bytes, shape ${shape} needs ${n * 4}`);
  const data = new Float32Array(n);
  Buffer.from(data.buffer).set(buf);
  return new ort.Tensor('float32', data, shape);
}

function median(sorted) {
  const n = sorted.length;
  return n % 2 ? sorted[(n - 1) / 2] : 0.5 * (sorted[n / 2 - 1] + sorted[n / 2]);
}

async function handle(req) {
  const session = await getSession(req.model, req.threads);
  const feeds = { [session.inputNames[0]]: loadInput(req.input, req.shape) };
  if (req.op === 'infer') {
    const out = (await session.run(feeds))[session.outputNames[0]];
    const f32 = Float32Array.from(out.data);
    fs.writeFileSync(req.output, Buffer.from(f32.buffer));
    return { ok: true, out_shape: out.dims };
  }
  if (req.op !== 'time') throw new Error(`unknown op ${req.op}`);
  for (let i = 0; i < req.warmup; i++) await session.run(feeds);
  const ms = [];
  for (let i = 0; i < req.iters; i++) {
    const t0 = process.hrtime.bigint();
    await session.run(feeds);
    ms.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  ms.sort((a, b) => a - b);
  return { ok: true, median_ms: median(ms), min_ms: ms[0], max_ms: ms[ms.length - 1] };
}

async function main() {
  const rl = readline.createInterface({ input: process.stdin, terminal: false });
  process.stdout.write(JSON.stringify({ ok: true, ready: true, version: ort.env.versions.node }) + '\n');
  for await (const line of rl) {
    if (!line.trim()) continue;
    let reply;
    let req = {};
    try {
      req = JSON.parse(line);
      if (req.op === 'quit') break;
      reply = await handle(req);
    } catch (e) {
      reply = { ok: false, error: String(e && e.message ? e.message : e) };
    }
    process.stdout.write(JSON.stringify(reply) + '\n');
  }
  for (const session of sessions.values()) await session.release();
}

main().catch((e) => {
  process.stderr.write(`ort_worker: ${e && e.stack ? e.stack : e}\n`);
  process.exit(1);
});
