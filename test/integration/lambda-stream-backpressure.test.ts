// A slow consumer slows Lambda down: the sidecar never buffers a response
// stream beyond a few socket and stream buffers.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import t, { type Test } from 'tap';
import { Pool } from 'undici';
import { createCancellation } from '../../src/cancellation';
import { createStreamInvoke } from '../../src/lambda/stream-invoke';
import { startFakeStreamingLambda, type StreamWriter } from '../fakes/lambda-stream';
import { STREAMING_FUNCTION } from '../fakes/lambda-stream-child';

const MiB = 1024 * 1024;
// A collected baseline: growth measured from a cold, uncollected heap is mostly garbage's timing.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const CHUNK = Buffer.alloc(64 * 1024, 0x62);

async function start(t: Test, total: number, onWriter: (writer: StreamWriter) => void = () => undefined) {
  const fake = await startFakeStreamingLambda({
    secrets: { AKIDBP: 'bp-secret' },
    functions: {
      big: {
        run: async (w) => {
          onWriter(w);
          for (let sent = 0; sent < total; sent += CHUNK.length) await w.write(CHUNK);
        },
      },
    },
  });
  const pool = new Pool(fake.url);
  t.teardown(async () => {
    await pool.destroy();
    await fake.close();
  });
  const invoke = createStreamInvoke(
    { endpoint: fake.url, region: 'us-east-1', credentials: async () => ({ accessKeyId: 'AKIDBP', secretAccessKey: 'bp-secret' }), dispatcher: pool },
    { functionName: 'big', qualifier: undefined, invocationType: 'RequestResponse', logType: 'None', timeout: 120_000 },
  );
  return invoke(Buffer.from('{}'), createCancellation());
}

// The function runs in a child process, so RSS here is the consuming side's alone.
async function childStream(t: Test, total: number) {
  const child = spawn(process.execPath, ['-e', STREAMING_FUNCTION, String(total)], { cwd: join(__dirname, '..', '..'), stdio: ['ignore', 'pipe', 'inherit'] });
  t.teardown(() => void child.kill());
  const port = await new Promise<number>((resolve) => child.stdout.once('data', (data: Buffer) => resolve(Number(data.toString().trim()))));
  const pool = new Pool(`http://127.0.0.1:${port}`);
  t.teardown(() => pool.destroy());
  const invoke = createStreamInvoke(
    { endpoint: `http://127.0.0.1:${port}`, region: 'us-east-1', credentials: async () => ({ accessKeyId: 'AKIDBP', secretAccessKey: 'bp-secret' }), dispatcher: pool },
    { functionName: 'big', qualifier: undefined, invocationType: 'RequestResponse', logType: 'None', timeout: 120_000 },
  );
  return invoke(Buffer.from('{}'), createCancellation());
}

t.test('a 64 MiB stream to a slow consumer grows RSS by far less than the stream', async (t) => {
  // Warm-up: the same path once with a small stream, then a full collection.
  for await (const chunk of (await childStream(t, 4 * MiB)).chunks) void chunk;
  gc();
  const stream = await childStream(t, 64 * MiB);
  const baseline = process.memoryUsage().rss;
  let peak = baseline;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 10);
  let received = 0;
  const started = process.hrtime.bigint();
  for await (const chunk of stream.chunks) {
    received += chunk.length;
    // Slow: one pause per chunk, so the function outruns the reader all the way.
    await sleep(1);
  }
  clearInterval(sampler);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const growth = (peak - baseline) / MiB;
  t.equal(received, 64 * MiB);
  t.comment(`64 MiB in ${seconds.toFixed(2)} s to a consumer sleeping 1 ms per chunk; RSS growth ${growth.toFixed(1)} MiB over the warmed-up, collected baseline (${(baseline / MiB).toFixed(0)} MiB)`);
  t.ok(growth < 48, `RSS growth ${growth.toFixed(1)} MiB stays under 48 MiB`);
});

t.test('one large stream as fast as it can be read (loopback throughput of the Lambda side)', async (t) => {
  const stream = await childStream(t, 256 * MiB);
  let received = 0;
  const started = process.hrtime.bigint();
  for await (const chunk of stream.chunks) received += chunk.length;
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  t.equal(received, 256 * MiB);
  t.comment(`256 MiB in ${seconds.toFixed(2)} s: ${(256 / seconds).toFixed(0)} MiB/s`);
});

t.test('while the consumer does not pull, Lambda cannot write past the buffers between them', async (t) => {
  let writer: StreamWriter | undefined;
  const stream = await start(t, 256 * MiB, (w) => (writer = w));
  const iterator = stream.chunks[Symbol.asyncIterator]();
  await iterator.next();
  // Wait until the fake's writes stall: its byte count stops moving.
  let last = -1;
  while (writer?.bytesWritten !== last) {
    last = writer?.bytesWritten ?? 0;
    await sleep(300);
  }
  t.comment(`stalled after ${(last / MiB).toFixed(2)} MiB written by the function`);
  t.ok(last < 16 * MiB, `the function is held back (${last} bytes written of 256 MiB)`);
  // Pulling again lets it write on.
  for (let i = 0; i < 400; i++) await iterator.next();
  t.ok((writer?.bytesWritten ?? 0) > last, 'it writes again once the consumer pulls');
  await iterator.return?.();
});
