// Floor (b): the cheapest correct signed Lambda Invoke loop in Node: an undici
// keep-alive Pool on its dispatch API (as the sidecar's lean invoke), the
// one-shape SigV4 signer (signing key cached per day), one attempt, the whole
// answer read and checked. CPU is this
// process's own, read at the window edges.
import { performance } from 'node:perf_hooks';
import { Pool, type Dispatcher } from 'undici';
import { FUNCTION_NAME, FUNCTION_OUTPUT, KEY_ID, REGION, SECRET } from './fixtures';
import { createLatencyRecorder } from './latency';
import { benchPayload } from './payload-shape';
import type { InvokeJob, JobResult } from './protocol';
import { createInvokeSigner } from '../src/lambda/sigv4';

const REQUEST_TIMEOUT_MS = 10_000;
const MAX_ERROR_SAMPLES = 5;

export async function runInvokeFloor(job: InvokeJob): Promise<JobResult> {
  const payload = benchPayload(job.payloadBytes);
  const host = `127.0.0.1:${job.port}`;
  const path = `/2015-03-31/functions/${FUNCTION_NAME}/invocations`;
  const pool = new Pool(`http://${host}`, { connections: job.concurrency, pipelining: 1, keepAliveTimeout: 60_000 });
  const identity = { accessKeyId: KEY_ID, secretAccessKey: SECRET };
  const sign = createInvokeSigner({ credentials: async () => identity, region: REGION, host, path, qualifier: undefined, invocationType: 'RequestResponse', logType: 'None' });
  const latency = createLatencyRecorder();
  const errorSamples: string[] = [];
  let measuring = false;
  let stopped = false;
  let requests = 0;
  let errors = 0;

  const invokeOnce = async (): Promise<void> => {
    const startedAt = performance.now();
    try {
      const headers = await sign(payload);
      const { statusCode, body } = await post(pool, { method: 'POST', path, headers, body: payload, headersTimeout: REQUEST_TIMEOUT_MS, bodyTimeout: REQUEST_TIMEOUT_MS });
      if (statusCode !== 200 || !body.equals(FUNCTION_OUTPUT)) throw new Error(`Lambda answered ${statusCode}: ${body.subarray(0, 200).toString('utf8')}`);
      if (measuring) {
        requests += 1;
        latency.record(performance.now() - startedAt);
      }
    } catch (error) {
      if (measuring) {
        errors += 1;
        const reason = (error as Error).message;
        if (errorSamples.length < MAX_ERROR_SAMPLES && !errorSamples.includes(reason)) errorSamples.push(reason);
      }
    }
  };
  const worker = async (): Promise<void> => {
    while (!stopped) await invokeOnce();
  };

  let cpuStart = process.cpuUsage();
  let windowStart = 0;
  const workers = Array.from({ length: job.concurrency }, worker);
  await new Promise((resolve) => setTimeout(resolve, job.warmupMs));
  cpuStart = process.cpuUsage();
  windowStart = performance.now();
  measuring = true;
  await new Promise((resolve) => setTimeout(resolve, job.durationMs));
  measuring = false;
  const cpu = process.cpuUsage(cpuStart);
  const elapsedMs = performance.now() - windowStart;
  stopped = true;
  await Promise.race([Promise.all(workers), new Promise((resolve) => setTimeout(resolve, REQUEST_TIMEOUT_MS))]);
  await pool.destroy();
  return {
    requests,
    errors,
    elapsedMs,
    rps: (requests * 1000) / elapsedMs,
    latency: latency.summary(),
    cpuMicrosPerRequest: requests === 0 ? 0 : (cpu.user + cpu.system) / requests,
    goaways: 0,
    closeTimeouts: 0,
    badStatuses: 0,
    errorSamples,
  };
}

/** One request on undici's dispatch API: status and the whole body. */
function post(pool: Pool, options: Dispatcher.DispatchOptions): Promise<{ statusCode: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let statusCode = 0;
    pool.dispatch(options, {
      onRequestStart: () => undefined,
      onResponseStart: (_controller, code) => {
        statusCode = code;
      },
      onResponseData: (_controller, chunk) => {
        chunks.push(chunk);
      },
      onResponseEnd: () => resolve({ statusCode, body: Buffer.concat(chunks) }),
      onResponseError: (_controller, error) => reject(error),
    });
  });
}
