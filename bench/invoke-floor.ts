// Floor (b): the cheapest correct signed Lambda Invoke loop in Node
// (floor-invoke.ts), `concurrency` calls at a time. CPU is this process's
// own, read at the window edges.
import { performance } from 'node:perf_hooks';
import { checkAnswer, createFloorInvoke, REQUEST_TIMEOUT_MS } from './floor-invoke';
import { createLatencyRecorder } from './latency';
import { benchPayload } from './payload-shape';
import type { InvokeJob, JobResult } from './protocol';

const MAX_ERROR_SAMPLES = 5;

export async function runInvokeFloor(job: InvokeJob): Promise<JobResult> {
  const payload = benchPayload(job.payloadBytes);
  const invoke = createFloorInvoke(job.port, job.concurrency);
  const latency = createLatencyRecorder();
  const errorSamples: string[] = [];
  let measuring = false;
  let stopped = false;
  let requests = 0;
  let errors = 0;

  const invokeOnce = async (): Promise<void> => {
    const startedAt = performance.now();
    try {
      const headers = await invoke.sign(payload);
      const { statusCode, body } = await invoke.post(headers, payload);
      checkAnswer(statusCode, body);
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
  await invoke.close();
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
