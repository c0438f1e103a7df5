// --profile N: the sidecar under the headline load for N seconds with
// node --cpu-prof, stopped by SIGTERM so V8 writes the profile, then ranked.
import { mkdirSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { startEnvironment } from './environment';
import { measureExtProc, type Targets } from './measure-cell';
import type { BenchOptions } from './options';
import { sidecarCliOf } from './reference';
import { formatProfileSummary, summarizeProfile, type ProfileSummary } from './profile-summary';
import type { JobResult } from './protocol';

export interface ProfileResult {
  readonly file: string;
  readonly load: JobResult;
  readonly summary: ProfileSummary;
}

export async function runProfile(options: BenchOptions, log: (line: string) => void): Promise<ProfileResult> {
  const dir = resolve('bench/results');
  mkdirSync(dir, { recursive: true });
  const startedAt = Date.now();
  const env = await startEnvironment({ logLevel: options.logLevel, nodeFlags: options.nodeFlags, withGrpcFloor: false, sidecarNodeArgs: ['--cpu-prof', `--cpu-prof-dir=${dir}`], sidecarCli: sidecarCliOf(options) });
  let load: JobResult;
  try {
    const targets: Targets = { worker: env.worker, lambda: env.lambda, sidecar: env.sidecar, grpcFloor: env.grpcFloor, maxConnections: options.maxConnections };
    const closeMode = options.closeModes.includes('graceful') ? 'graceful' : 'reset';
    load = await measureExtProc(targets, env.sidecar, { concurrency: options.headlineConcurrency, bodyBytes: options.profileBodyBytes, closeMode }, { warmupMs: 1000, durationMs: options.profileSeconds * 1000 });
    log(`  profiled load: ${load.rps.toFixed(0)} req/s, ${load.cpuMicrosPerRequest.toFixed(0)} CPU µs/req, errors ${load.errors}`);
  } finally {
    await env.stop();
  }
  const written = readdirSync(dir)
    .filter((name) => name.endsWith('.cpuprofile'))
    .map((name) => join(dir, name))
    .filter((file) => statSync(file).mtimeMs >= startedAt)
    .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs)[0];
  if (written === undefined) throw new Error(`the sidecar wrote no .cpuprofile to ${dir}`);
  const summary = summarizeProfile(written);
  log(formatProfileSummary(summary));
  return { file: written, load, summary };
}
