// `npm run bench`: starts the fake Lambda, the sidecar (from its CLI), floor
// (a+b) and the load generator as separate loopback processes and measures the
// sidecar against floor (a+b) cell by cell over alternating rounds (or the
// soak, the profile, a side-by-side comparison with another build, or the
// composite model's floors (a), (b) and (a+b) next to the sidecar), prints
// the tables and writes bench/results/latest.json.
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname } from 'node:path';
import { runCompare } from './compare';
import { runJoined } from './joined';
import { startEnvironment } from './environment';
import { parseBenchOptions, type BenchOptions } from './options';
import { fakeStats, startFakeLambdaProcess, startJoinedFloor, startWorker } from './processes';
import { formatReference, runReference, TARGETS } from './reference';
import { writeSidecarConfig } from './sidecar-config';
import { runProfile } from './profile';
import { describeMachine } from './report';
import { runSoak } from './soak';
import { runStreaming } from './streaming';

const log = (line: string): void => {
  process.stdout.write(`${line}\n`);
};

function writeResults(file: string, value: unknown): void {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify(value, null, 2)}\n`);
  log(`results written to ${file}`);
}

async function benchmark(options: BenchOptions): Promise<void> {
  const startedAt = Date.now();
  const machine = describeMachine();
  log(`lambda-extproc bench on ${machine.cpus}× ${machine.cpuModel}, Node ${machine.node} ${options.nodeFlags.join(' ') || '(default flags)'}, load average ${loadavg()[0]?.toFixed(1)}`);
  const stops: Array<() => Promise<void>> = [];
  try {
    const lambda = await startFakeLambdaProcess(options.nodeFlags);
    stops.push(lambda.stop);
    const config = writeSidecarConfig(lambda.port, options.logLevel);
    stops.push(async () => config.remove());
    const worker = await startWorker(options.nodeFlags);
    stops.push(worker.stop);
    const result = await runReference({ worker, lambda, configPath: config.path }, options, log);
    const stats = await fakeStats(lambda.port);
    log(`\nThe sidecar against floor (a+b) (${options.runs} rounds; median (range); targets: throughput ≥ ${TARGETS.throughputAtLeast}, CPU ≤ ${TARGETS.cpuAtMost}, c16 added p99 < ${TARGETS.c16AddedP99BelowMs} ms):`);
    log(formatReference(result.cells));
    for (const cell of result.cells) if (cell.errorSamples.length > 0) log(`errors in ${cell.key}: ${cell.errorSamples.join('; ')}`);
    log(`\nfake Lambda: ${stats.served} invokes served, ${stats.rejected} rejected${stats.rejected > 0 ? ` (${stats.lastRejection})` : ''}`);
    const seconds = (Date.now() - startedAt) / 1000;
    log(`bench took ${seconds.toFixed(0)} s, load average ${loadavg()[0]?.toFixed(1)}`);
    writeResults(options.output, { date: new Date().toISOString(), machine, loadAverage: loadavg(), seconds, options, targets: TARGETS, fake: stats, ...result });
  } finally {
    for (const stop of stops.reverse()) await stop();
  }
}

async function soak(options: BenchOptions): Promise<void> {
  if (options.soakSeconds < 10) throw new Error('--soak takes at least 10 seconds');
  const machine = describeMachine();
  log(`lambda-extproc soak: ${options.soakSeconds} s at ${options.soakRate} req/s`);
  const env = await startEnvironment({ logLevel: options.logLevel, nodeFlags: options.nodeFlags, withGrpcFloor: false });
  try {
    const result = await runSoak(env, options, log);
    const mib = (bytes: number): string => `${(bytes / (1024 * 1024)).toFixed(1)} MiB`;
    log(`soak: ${result.load.requests} requests after warm-up at ${result.load.rps.toFixed(0)} req/s, errors ${result.load.errors}, p50 ${result.load.latency.p50.toFixed(2)} ms, p99 ${result.load.latency.p99.toFixed(2)} ms`);
    log(`RSS after ${result.warmupSeconds} s warm-up ${mib(result.rssAfterWarmup)}, at end ${mib(result.rssAtEnd)}, peak ${mib(result.rssPeak)}: growth ${(result.growth * 100).toFixed(1)} %`);
    writeResults(options.output.replace(/latest\.json$/, 'soak.json'), { date: new Date().toISOString(), machine, soak: result });
  } finally {
    await env.stop();
  }
}

async function profile(options: BenchOptions): Promise<void> {
  const result = await runProfile(options, log);
  writeResults(options.output.replace(/latest\.json$/, 'profile.json'), { date: new Date().toISOString(), machine: describeMachine(), ...result });
}

async function compare(options: BenchOptions): Promise<void> {
  log(`lambda-extproc compare: this build against ${options.compareDir}, ${options.compareRate} req/s each, side by side`);
  const result = await runCompare(options, log);
  log(`median CPU per request, this build ÷ base: ${Object.entries(result.medians).map(([body, ratio]) => `${body} ${ratio.toFixed(3)}`).join(', ')}`);
  writeResults(options.output.replace(/latest\.json$/, 'compare.json'), { date: new Date().toISOString(), machine: describeMachine(), ...result });
}

async function joined(options: BenchOptions): Promise<void> {
  const machine = describeMachine();
  log(`lambda-extproc bench --joined on ${machine.cpus}× ${machine.cpuModel}, Node ${machine.node}: floors (a), (b), (a+b) and the sidecar, c${options.headlineConcurrency} ${options.closeModes[0] ?? 'reset'}`);
  const env = await startEnvironment({ logLevel: options.logLevel, nodeFlags: options.nodeFlags, withGrpcFloor: true });
  try {
    const joinedFloor = await startJoinedFloor(options.nodeFlags, env.lambda.port);
    try {
      const result = await runJoined(env, joinedFloor, options, log);
      for (const [body, m] of Object.entries(result.medians)) {
        log(`median ${body}: floor (a+b) ÷ composite ${m.joinedToComposite.toFixed(2)}, sidecar ÷ composite ${m.sidecarToComposite.toFixed(2)}, sidecar ÷ floor (a+b) ${m.sidecarToJoined.toFixed(2)} (CPU ${m.cpuToJoined.toFixed(2)}×)`);
      }
      writeResults(options.output.replace(/latest\.json$/, 'joined.json'), { date: new Date().toISOString(), machine, ...result });
    } finally {
      await joinedFloor.stop();
    }
  } finally {
    await env.stop();
  }
}

async function main(): Promise<void> {
  const options = parseBenchOptions(process.argv.slice(2));
  if (options.compareDir !== '') return compare(options);
  if (options.joined) return joined(options);
  if (options.streaming) return writeResults(options.output.replace(/latest\.json$/, 'streaming.json'), await runStreaming(options, log));
  if (options.soakSeconds > 0) return soak(options);
  if (options.profileSeconds > 0) return profile(options);
  return benchmark(options);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`bench failed: ${(error as Error).stack ?? String(error)}\n`);
    process.exit(1);
  },
);
