// A large streamed response through the whole sidecar (stream loop, streaming
// invoke, decoder, writer, grpc-js) with the function and the Envoy stand-in in
// other processes, so this process's RSS is the sidecar's own: a slow reader
// holds the function back and memory stays bounded; also time to a chunk and
// throughput on loopback (reported, not asserted).
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import t, { type Test } from 'tap';
import { createEnvoyStreamClient } from '../envoy-stream-client';
import { startFakeStreamingLambda } from '../fakes/lambda-stream';
import { fakeRoute, KEY_ID, SECRET, startHarness, type Harness } from '../support/harness';
import { STREAMING_FUNCTION } from '../fakes/lambda-stream-child';

const MiB = 1024 * 1024;

// A full collection before the baseline, so garbage left by earlier work is not counted as room.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const ROOT = join(__dirname, '..', '..');

// Envoy in FULL_DUPLEX_STREAMED, reading slowly (a pause of pauseMs after each
// body message) or as fast as it can; prints {bytes, messages, ms} as JSON.
const ENVOY = `
const { credentials, loadPackageDefinition, Metadata } = require('@grpc/grpc-js');
const { loadSync } = require('@grpc/proto-loader');
const [address, path, pauseMs] = process.argv.slice(1);
const definition = loadSync('envoy/service/ext_proc/v3/external_processor.proto', { keepCase: true, longs: Number, enums: Number, bytes: Buffer, defaults: false, oneofs: true, includeDirs: ['proto'] });
const Ctor = loadPackageDefinition(definition).envoy.service.ext_proc.v3.ExternalProcessor;
const client = new Ctor(address, credentials.createInsecure(), { 'grpc.max_receive_message_length': 64 * 1024 * 1024 });
const call = client.Process(new Metadata());
const started = performance.now();
const h = (key, value) => ({ key, raw_value: Buffer.from(value) });
call.write({ request_headers: { headers: { headers: [h(':method', 'POST'), h(':path', path), h(':authority', 'example.com'), h(':scheme', 'https')] }, end_of_stream: false }, protocol_config: { request_body_mode: 4 } });
call.write({ request_body: { body: Buffer.from(process.argv[4]), end_of_stream: true } });
let bytes = 0, messages = 0, status;
call.on('data', (m) => {
  const body = m.streamed_immediate_response && m.streamed_immediate_response.body_response;
  if (!body) return;
  bytes += body.body ? body.body.length : 0;
  messages++;
  if (body.end_of_stream) {
    process.stdout.write(JSON.stringify({ bytes, messages, ms: performance.now() - started }) + '\\n');
    call.cancel();
    client.close();
    return;
  }
  if (Number(pauseMs) > 0) { call.pause(); setTimeout(() => call.resume(), Number(pauseMs)); }
});
call.on('status', (s) => { if (s.code !== 0) { process.stdout.write(JSON.stringify({ error: s.code, details: s.details, bytes }) + '\\n'); } });
call.on('error', () => undefined);
`;

function spawnNode(t: Test, script: string, args: string[]): { firstLine: Promise<string> } {
  const child = spawn(process.execPath, ['-e', script, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  t.teardown(() => void child.kill());
  let text = '';
  const firstLine = new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (data: Buffer) => {
      text += data.toString();
      const end = text.indexOf('\n');
      if (end >= 0) resolve(text.slice(0, end));
    });
    child.once('exit', (code) => reject(new Error(`child exited (${code}) before printing a line`)));
  });
  return { firstLine };
}

interface Run {
  readonly bytes: number;
  readonly messages: number;
  readonly ms: number;
  readonly error?: number;
}

async function sidecar(t: Test, functionPort: number): Promise<Harness> {
  const h = await startHarness({
    config: `routes:\n${fakeRoute('big', 'match: { path: /big }\nfunction_name: big\ninvoke_mode: RESPONSE_STREAM\ntimeout: 120000\nforward_request_body: true\nbase64_encode_body: false').replace('port: {{lambda}}', `port: ${functionPort}`)}`,
  });
  t.teardown(() => h.close());
  return h;
}

async function stream(t: Test, h: Harness, total: number, pauseMs: number): Promise<Run> {
  const envoy = spawnNode(t, ENVOY, [`127.0.0.1:${h.app.port}`, '/big', String(pauseMs), JSON.stringify({ total })]);
  return JSON.parse(await envoy.firstLine) as Run;
}

t.test('64 MiB to a slow reader: the sidecar RSS stays bounded', async (t) => {
  const fn = spawnNode(t, STREAMING_FUNCTION, []);
  const h = await sidecar(t, Number(await fn.firstLine));
  gc();
  const cold = process.memoryUsage().rss;
  // Warm-up: code compiled, pools and connections made, before the baseline.
  const warm = await stream(t, h, 8 * MiB, 0);
  t.equal(warm.bytes, 8 * MiB, 'warm-up stream complete');
  gc();
  const baseline = process.memoryUsage().rss;
  let peak = baseline;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 5);
  const run = await stream(t, h, 64 * MiB, 1);
  clearInterval(sampler);
  const growth = (peak - baseline) / MiB;
  gc();
  const retained = (process.memoryUsage().rss - baseline) / MiB;
  t.equal(run.bytes, 64 * MiB, `the reader got all 64 MiB (${JSON.stringify(run)})`);
  t.equal(run.messages, 64 * 16 + 1, 'one message per 64 KiB chunk, and the end');
  t.comment(
    `64 MiB in ${(run.ms / 1000).toFixed(2)} s to a reader pausing 1 ms per 64 KiB message; peak RSS growth ${growth.toFixed(1)} MiB over the warmed-up, collected baseline (${(baseline / MiB).toFixed(0)} MiB; ${((peak - cold) / MiB).toFixed(1)} MiB over the RSS before the warm-up), ${retained.toFixed(1)} MiB left after a full GC`,
  );
  t.ok(growth < 48, `peak RSS growth ${growth.toFixed(1)} MiB over the warmed-up baseline is under 48 MiB`);
  // Buffering the stream would take 64 MiB at least, on top of the first stream's code and heap.
  t.ok(peak - cold < 64 * MiB, `peak RSS growth from cold ${((peak - cold) / MiB).toFixed(1)} MiB is under 64 MiB`);
});

t.test('throughput of one stream read as fast as it can be', async (t) => {
  const fn = spawnNode(t, STREAMING_FUNCTION, []);
  const h = await sidecar(t, Number(await fn.firstLine));
  await stream(t, h, 8 * MiB, 0);
  const run = await stream(t, h, 128 * MiB, 0);
  t.equal(run.bytes, 128 * MiB);
  t.comment(`128 MiB in ${(run.ms / 1000).toFixed(2)} s: ${((128 * 1000) / run.ms).toFixed(0)} MiB/s through the sidecar on loopback`);
});

t.test('time from a function write to the client, one small chunk at a time', async (t) => {
  const rounds = 200;
  const written: number[] = [];
  const arrived: number[] = [];
  let next: () => void = () => undefined;
  const fake = await startFakeStreamingLambda({
    secrets: { [KEY_ID]: SECRET },
    functions: {
      ping: {
        run: async (w) => {
          for (let i = 0; i < rounds; i++) {
            const got = new Promise<void>((resolve) => (next = resolve));
            written.push(performance.now());
            await w.write(`${i}`);
            await got;
          }
        },
      },
    },
  });
  t.teardown(() => fake.close());
  const h = await startHarness({ config: `routes:\n${fakeRoute('ping', 'match: { path: /ping }\nfunction_name: ping\ninvoke_mode: RESPONSE_STREAM').replace('port: {{lambda}}', `port: ${fake.port}`)}` });
  t.teardown(() => h.close());
  const client = createEnvoyStreamClient(`127.0.0.1:${h.app.port}`);
  t.teardown(() => client.close());
  const reply = await client.exchange({
    path: '/ping',
    onChunk: (_index, chunk) => {
      if (chunk.length === 0) return;
      arrived.push(performance.now());
      next();
    },
  });
  t.equal(reply.outcome, 'streamed');
  t.equal(arrived.length, rounds);
  const latencies = arrived.map((at, i) => at - (written[i] ?? at)).sort((a, b) => a - b);
  const pick = (q: number): string => (latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0).toFixed(2);
  t.comment(`function write → client arrival over ${rounds} chunks (fake, sidecar and client in one process): p50 ${pick(0.5)} ms, p99 ${pick(0.99)} ms, max ${pick(1)} ms`);
  t.ok(reply.chunks.length === rounds + 1);
});
