// Soak: steady moderate load on the sidecar for N seconds, RSS sampled every
// few seconds; growth is measured from the end of warm-up to the end.
import type { Environment } from './environment';
import { measureExtProc, type Targets } from './measure-cell';
import type { BenchOptions } from './options';
import { rssBytesOf } from './proc-stats';
import type { JobResult } from './protocol';

const SAMPLE_EVERY_MS = 5_000;
const SOAK_CONCURRENCY = 16;
const SOAK_BODY_BYTES = 1024;

export interface SoakResult {
  readonly seconds: number;
  readonly rate: number;
  readonly concurrency: number;
  readonly bodyBytes: number;
  readonly closeMode: string;
  readonly warmupSeconds: number;
  readonly samples: ReadonlyArray<{ readonly atSeconds: number; readonly rssBytes: number }>;
  readonly rssAfterWarmup: number;
  readonly rssAtEnd: number;
  readonly rssPeak: number;
  /** (end − after warm-up) ÷ after warm-up; each the median of three samples. */
  readonly growth: number;
  readonly load: JobResult;
}

export async function runSoak(env: Environment, options: BenchOptions, log: (line: string) => void): Promise<SoakResult> {
  const targets: Targets = { worker: env.worker, lambda: env.lambda, sidecar: env.sidecar, grpcFloor: env.grpcFloor, maxConnections: options.maxConnections };
  const closeMode = options.closeModes.includes('graceful') ? 'graceful' : 'reset';
  // Warm-up: a fifth of the soak, at most a minute.
  const warmupSeconds = Math.min(60, Math.max(5, Math.floor(options.soakSeconds / 5)));
  const samples: Array<{ atSeconds: number; rssBytes: number }> = [];
  const startedAt = Date.now();
  const sample = (): void => {
    const entry = { atSeconds: Math.round((Date.now() - startedAt) / 1000), rssBytes: rssBytesOf(env.sidecar.pid) };
    samples.push(entry);
    if (samples.length % 12 === 1) log(`  soak ${entry.atSeconds}s: RSS ${(entry.rssBytes / (1024 * 1024)).toFixed(1)} MiB`);
  };
  sample();
  const timer = setInterval(sample, SAMPLE_EVERY_MS);
  let load: JobResult;
  try {
    load = await measureExtProc(
      targets,
      env.sidecar,
      { concurrency: SOAK_CONCURRENCY, bodyBytes: SOAK_BODY_BYTES, closeMode },
      { warmupMs: warmupSeconds * 1000, durationMs: (options.soakSeconds - warmupSeconds) * 1000 },
      options.soakRate,
    );
  } finally {
    clearInterval(timer);
  }
  sample();
  const afterWarmup = samples.filter((s) => s.atSeconds >= warmupSeconds);
  const median3 = (list: typeof samples): number => {
    const values = list.map((s) => s.rssBytes).sort((a, b) => a - b);
    return values[Math.floor(values.length / 2)] ?? 0;
  };
  const rssAfterWarmup = median3(afterWarmup.slice(0, 3));
  const rssAtEnd = median3(afterWarmup.slice(-3));
  return {
    seconds: options.soakSeconds,
    rate: options.soakRate,
    concurrency: SOAK_CONCURRENCY,
    bodyBytes: SOAK_BODY_BYTES,
    closeMode,
    warmupSeconds,
    samples,
    rssAfterWarmup,
    rssAtEnd,
    rssPeak: Math.max(...samples.map((s) => s.rssBytes)),
    growth: rssAfterWarmup === 0 ? 0 : (rssAtEnd - rssAfterWarmup) / rssAfterWarmup,
    load,
  };
}
