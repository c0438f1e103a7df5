// `npm run bench -- --streaming`: response streaming (invoke_mode
// RESPONSE_STREAM) measured with the sidecar (from its CLI), a streaming fake
// Lambda and the load generator as separate loopback processes:
// 1. time to first chunk added by the sidecar at concurrency 16: Envoy's side
//    (FULL_DUPLEX_STREAMED over HTTP/2, request_headers → first streamed body
//    message) against a direct InvokeWithResponseStream client to the same fake
//    (request → first PayloadChunk), rounds alternating which goes first;
// 2. bytes/s of one large stream through the sidecar and read directly;
// 3. the sidecar's peak RSS (VmRSS every 50 ms) during a 64 MiB stream to a
//    slow reader, over its RSS before it (after a warm-up stream).
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import type { BenchOptions } from './options';
import { forkReady, jobChannel, startSidecar, stopChild, type StartedSidecar } from './processes';
import { cpuMicrosOf } from './proc-stats';
import { describeMachine, type Machine } from './report';
import { writeStreamingConfig } from './sidecar-config';
import type { BulkJob, BulkResult, FirstChunkJob, FirstChunkResult, StreamingJob, Target } from './streaming-load';
import { bytesPerSecond, percentiles, summarizeFirstChunk, summarizeRss, type FirstChunkRound, type FirstChunkSummary, type RssSummary } from './streaming-summary';

const MiB = 1024 * 1024;
const JOB_LIMIT_MS = 60_000;
const RSS_EVERY_MS = 50;

export const STREAMING_TARGETS = { addedFirstChunkP99BelowMs: 2 } as const;

interface Plan {
  readonly concurrency: number;
  readonly firstChunkRounds: number;
  readonly firstChunkRequests: number;
  readonly firstChunkC1Requests: number;
  readonly firstChunkBytes: number;
  readonly bulkRounds: number;
  readonly bulkBytes: number;
  readonly chunkBytes: number;
  readonly slowBytes: number;
  readonly slowPauseMs: number;
  readonly slowWindowBytes: number;
}

function planOf(options: BenchOptions): Plan {
  const quick = options.quick;
  return {
    concurrency: 16,
    firstChunkRounds: quick ? 2 : 4,
    firstChunkRequests: quick ? 300 : 1000,
    firstChunkC1Requests: quick ? 100 : 250,
    firstChunkBytes: 1024,
    bulkRounds: quick ? 1 : 2,
    bulkBytes: (quick ? 64 : 256) * MiB,
    chunkBytes: 64 * 1024,
    slowBytes: 64 * MiB,
    slowPauseMs: 2,
    // An Envoy whose downstream is slow stops granting window: modelled by a 1 MiB HTTP/2 window.
    slowWindowBytes: 1 * MiB,
  };
}

export interface StreamingResult {
  readonly date: string;
  readonly machine: Machine;
  readonly loadAverage: { readonly start: readonly number[]; readonly end: readonly number[] };
  readonly seconds: number;
  readonly plan: Plan;
  readonly firstChunk: FirstChunkSeries & { readonly targetMet: boolean };
  readonly firstChunkC1: FirstChunkSeries;
  readonly throughput: {
    readonly bytes: number;
    readonly sidecarBytesPerSecond: readonly number[];
    readonly directBytesPerSecond: readonly number[];
    /** Best sidecar round ÷ best direct round. */
    readonly ratio: number;
    readonly sidecarMessages: number;
  };
  readonly rss: RssSummary & { readonly streamBytes: number; readonly pauseMs: number; readonly windowBytes: number; readonly streamMs: number; readonly messages: number; readonly afterBytes: number };
  readonly fake: unknown;
  readonly sidecarProblems: readonly string[];
}

interface StreamingWorker {
  run(job: FirstChunkJob): Promise<FirstChunkResult>;
  run(job: BulkJob): Promise<BulkResult>;
}

function workerOf(child: ChildProcess): StreamingWorker {
  const send = jobChannel<StreamingJob, FirstChunkResult | BulkResult>(child);
  const run = (job: StreamingJob): Promise<FirstChunkResult | BulkResult> => {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(new Error(`${job.kind} ${job.target} took over ${JOB_LIMIT_MS} ms`)), JOB_LIMIT_MS);
    });
    return Promise.race([send(job), late]).finally(() => clearTimeout(timer));
  };
  return { run: run as StreamingWorker['run'] };
}

/** VmRSS of one process, in bytes. */
function vmRssOf(pid: number): number {
  const found = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return found === null ? 0 : Number(found[1]) * 1024;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export async function runStreaming(options: BenchOptions, log: (line: string) => void): Promise<StreamingResult> {
  const startedAt = Date.now();
  const loadStart = loadavg();
  const plan = planOf(options);
  const machine = describeMachine();
  log(`lambda-extproc bench --streaming on ${machine.cpus}× ${machine.cpuModel}, Node ${machine.node}, load average ${loadStart.map((l) => l.toFixed(1)).join(' ')}`);
  const stops: Array<() => Promise<void>> = [];
  try {
    const fake = await forkReady('streaming-fake-main.js', options.nodeFlags);
    stops.push(() => stopChild(fake.child));
    const config = writeStreamingConfig(fake.port, options.logLevel);
    stops.push(async () => config.remove());
    const sidecar: StartedSidecar = await startSidecar(config.path, options.nodeFlags);
    stops.push(sidecar.stop);
    const loader = await forkReady('streaming-worker-main.js', options.nodeFlags);
    stops.push(() => stopChild(loader.child));
    const worker = workerOf(loader.child);
    const portOf = (target: Target): number => (target === 'sidecar' ? sidecar.port : fake.port);
    const firstChunkJob = (target: Target, requests: number, concurrency = plan.concurrency): FirstChunkJob => ({ kind: 'first-chunk', target, port: portOf(target), concurrency, requests, streamBytes: plan.firstChunkBytes, timeoutMs: 10_000 });
    const bulkJob = (target: Target, streamBytes: number, pauseMs = 0, windowBytes = 256 * MiB): BulkJob => ({ kind: 'bulk', target, port: portOf(target), streamBytes, chunkBytes: plan.chunkBytes, windowBytes, pauseMs, timeoutMs: 50_000 });

    // Warm-up: JIT, connection pools, the fake's frames.
    for (const target of ['sidecar', 'direct'] as const) {
      await worker.run(firstChunkJob(target, 300));
      await worker.run(bulkJob(target, 16 * MiB));
    }

    // 1. Time to first chunk at c16 (the target), then at c1 (no queueing: the sidecar's own share).
    const firstChunk = await firstChunkSeries(worker, firstChunkJob, plan.concurrency, plan.firstChunkRounds, plan.firstChunkRequests, sidecar.pid, log);
    const firstChunkC1 = await firstChunkSeries(worker, firstChunkJob, 1, plan.firstChunkRounds, plan.firstChunkC1Requests, sidecar.pid, log);

    // 2. Bytes/s of one large stream, alternating.
    const sidecarRates: number[] = [];
    const directRates: number[] = [];
    let sidecarMessages = 0;
    for (let round = 0; round < plan.bulkRounds; round += 1) {
      const order: Target[] = round % 2 === 0 ? ['sidecar', 'direct'] : ['direct', 'sidecar'];
      for (const target of order) {
        const result = await worker.run(bulkJob(target, plan.bulkBytes));
        const rate = bytesPerSecond(result.bytes, result.ms);
        (target === 'sidecar' ? sidecarRates : directRates).push(rate);
        if (target === 'sidecar') sidecarMessages = result.messages;
        log(`one ${plan.bulkBytes / MiB} MiB stream, ${target}: ${(result.ms / 1000).toFixed(2)} s, ${mibPerSecond(rate)}, ${result.messages} chunks`);
      }
    }
    const ratio = Math.max(...sidecarRates) / Math.max(...directRates);

    // 3. RSS during a stream to a slow reader, over RSS before it (after a warm-up stream), in a
    // fresh sidecar: the heap the large streams above left behind would hide what this one costs.
    const problems = [...sidecar.problems()];
    await sidecar.stop();
    const fresh = await startSidecar(config.path, options.nodeFlags);
    stops.push(fresh.stop);
    const slowJob: BulkJob = { ...bulkJob('sidecar', plan.slowBytes, plan.slowPauseMs, plan.slowWindowBytes), port: fresh.port };
    await worker.run(slowJob);
    await sleep(300);
    const before: number[] = [];
    for (let i = 0; i < 5; i += 1) {
      before.push(vmRssOf(fresh.pid));
      await sleep(RSS_EVERY_MS);
    }
    const during: number[] = [];
    const sampler = setInterval(() => during.push(vmRssOf(fresh.pid)), RSS_EVERY_MS);
    let slow: BulkResult;
    try {
      slow = await worker.run(slowJob);
    } finally {
      clearInterval(sampler);
    }
    during.push(vmRssOf(fresh.pid));
    const rss = summarizeRss(before, during);
    await sleep(300);
    const afterBytes = vmRssOf(fresh.pid);
    problems.push(...fresh.problems());
    log(`slow reader, ${plan.slowBytes / MiB} MiB (pause ${plan.slowPauseMs} ms per read, ${plan.slowWindowBytes / MiB} MiB window): ${(slow.ms / 1000).toFixed(1)} s; sidecar RSS before ${mib(rss.baselineBytes)}, peak ${mib(rss.peakBytes)} (+${mib(rss.growthBytes)}, ${rss.samples} samples), after ${mib(afterBytes)}`);

    const fakeStats: unknown = await (await fetch(`http://127.0.0.1:${fake.port}/__stats`, { signal: AbortSignal.timeout(5_000) })).json();
    const loadEnd = loadavg();
    const seconds = (Date.now() - startedAt) / 1000;
    const targetMet = firstChunk.added.p99 < STREAMING_TARGETS.addedFirstChunkP99BelowMs;
    log('');
    for (const series of [firstChunk, firstChunkC1]) {
      log(`first chunk at c${series.concurrency} (${series.sidecar.count} + ${series.direct.count} requests, ${series.addedPerRound.length} rounds): sidecar p50 ${ms(series.sidecar.p50)} p99 ${ms(series.sidecar.p99)}, ${series.sidecarRps.toFixed(0)} req/s, ${series.sidecarCpuMicrosPerRequest.toFixed(0)} µs sidecar CPU/request; direct p50 ${ms(series.direct.p50)} p99 ${ms(series.direct.p99)}, ${series.directRps.toFixed(0)} req/s`);
      log(`  added by the sidecar: p50 ${ms(series.added.p50)}, p99 ${ms(series.added.p99)} (per round p99 ${series.addedPerRound.map((r) => r.p99.toFixed(2)).join(', ')}); errors: sidecar ${series.errors.sidecar}, direct ${series.errors.direct}${series.errorSamples.length > 0 ? ` (${series.errorSamples.join('; ')})` : ''}`);
    }
    log(`target c${plan.concurrency} added p99 < ${STREAMING_TARGETS.addedFirstChunkP99BelowMs} ms: ${targetMet ? 'met' : 'NOT met'}`);
    log(`one ${plan.bulkBytes / MiB} MiB stream: sidecar ${sidecarRates.map(mibPerSecond).join(', ')}; direct ${directRates.map(mibPerSecond).join(', ')}; sidecar ÷ direct ${ratio.toFixed(2)}`);
    log(`sidecar problems: ${problems.length === 0 ? 'none' : problems.join('\n')}`);
    log(`bench --streaming took ${seconds.toFixed(0)} s, load average ${loadEnd.map((l) => l.toFixed(1)).join(' ')}`);
    return {
      date: new Date().toISOString(),
      machine,
      loadAverage: { start: loadStart, end: loadEnd },
      seconds,
      plan,
      firstChunk: { ...firstChunk, targetMet },
      firstChunkC1,
      throughput: { bytes: plan.bulkBytes, sidecarBytesPerSecond: sidecarRates, directBytesPerSecond: directRates, ratio, sidecarMessages },
      rss: { ...rss, streamBytes: plan.slowBytes, pauseMs: plan.slowPauseMs, windowBytes: plan.slowWindowBytes, streamMs: slow.ms, messages: slow.messages, afterBytes },
      fake: fakeStats,
      sidecarProblems: problems,
    };
  } finally {
    for (const stop of stops.reverse()) await stop();
  }
}

export interface FirstChunkSeries extends FirstChunkSummary {
  readonly concurrency: number;
  readonly errors: { sidecar: number; direct: number };
  readonly errorSamples: string[];
  /** Requests per second over the measured rounds (closed loop: what the latency comes with). */
  readonly sidecarRps: number;
  readonly directRps: number;
  /** The sidecar process's CPU time (user + system) over its rounds ÷ their requests. */
  readonly sidecarCpuMicrosPerRequest: number;
}

/** `rounds` rounds of `requests` first-chunk requests at `concurrency`, each round through the sidecar and directly, alternating which goes first. */
async function firstChunkSeries(
  worker: StreamingWorker,
  jobOf: (target: Target, requests: number, concurrency: number) => FirstChunkJob,
  concurrency: number,
  roundCount: number,
  requests: number,
  sidecarPid: number,
  log: (line: string) => void,
): Promise<FirstChunkSeries> {
  const rounds: FirstChunkRound[] = [];
  const errors = { sidecar: 0, direct: 0 };
  const errorSamples: string[] = [];
  const elapsed = { sidecar: 0, direct: 0 };
  let sidecarCpu = 0;
  for (let round = 0; round < roundCount; round += 1) {
    const order: Target[] = round % 2 === 0 ? ['sidecar', 'direct'] : ['direct', 'sidecar'];
    const got: Partial<Record<Target, number[]>> = {};
    for (const target of order) {
      const cpuBefore = cpuMicrosOf(sidecarPid);
      const result = await worker.run(jobOf(target, requests, concurrency));
      if (target === 'sidecar') sidecarCpu += cpuMicrosOf(sidecarPid) - cpuBefore;
      got[target] = result.samples;
      errors[target] += result.errors;
      elapsed[target] += result.elapsedMs;
      for (const sample of result.errorSamples) if (errorSamples.length < 10) errorSamples.push(`${target}: ${sample}`);
    }
    const s = percentiles(got.sidecar ?? []);
    const d = percentiles(got.direct ?? []);
    log(`first chunk c${concurrency}, round ${round + 1}/${roundCount}: sidecar p50 ${ms(s.p50)} p99 ${ms(s.p99)}, direct p50 ${ms(d.p50)} p99 ${ms(d.p99)}`);
    rounds.push({ sidecar: got.sidecar ?? [], direct: got.direct ?? [] });
  }
  const summary = summarizeFirstChunk(rounds);
  const rate = (count: number, ms: number): number => (ms > 0 ? (count * 1000) / ms : 0);
  return {
    ...summary,
    concurrency,
    errors,
    errorSamples,
    sidecarRps: rate(summary.sidecar.count, elapsed.sidecar),
    directRps: rate(summary.direct.count, elapsed.direct),
    sidecarCpuMicrosPerRequest: summary.sidecar.count > 0 ? sidecarCpu / (summary.sidecar.count + errors.sidecar) : 0,
  };
}

const ms = (value: number): string => `${value.toFixed(2)} ms`;
const mib = (bytes: number): string => `${(bytes / MiB).toFixed(1)} MiB`;
const mibPerSecond = (rate: number): string => `${(rate / MiB).toFixed(0)} MiB/s`;
