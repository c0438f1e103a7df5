// Command-line options of `npm run bench`.
import { parseArgs } from 'node:util';
import type { CloseMode } from './protocol';

export interface BenchOptions {
  readonly quick: boolean;
  /** Seconds of soak; 0 = the benchmark matrix instead. */
  readonly soakSeconds: number;
  readonly soakRate: number;
  /** Seconds of load on a sidecar started with --cpu-prof; 0 = no profile. */
  readonly profileSeconds: number;
  readonly profileBodyBytes: number;
  readonly runs: number;
  readonly concurrencies: readonly number[];
  readonly bodies: readonly number[];
  readonly closeModes: readonly CloseMode[];
  readonly maxConnections: number;
  /** Headline cells are measured again with a sidecar running `workers: N` (0 or 1: not). */
  readonly workers: number;
  readonly warmupMs: number;
  readonly durationMs: number;
  readonly headlineMs: number;
  readonly headlineConcurrency: number;
  readonly headlineBodies: readonly number[];
  readonly logLevel: string;
  /**
   * Node/V8 flags for every Node process of the run (sidecar, floors, fake,
   * load generator), so that a runtime setting is compared program against
   * program. None by default: the sidecar ships with Node's defaults.
   */
  readonly nodeFlags: readonly string[];
  /** Floor (a+b) next to the floors and the sidecar in the headline cells, instead of the matrix. */
  readonly joined: boolean;
  /** Another build's dist/ to compare this one with; '' = no comparison. */
  readonly compareDir: string;
  /** Requests per second each sidecar gets in a comparison. */
  readonly compareRate: number;
  readonly output: string;
}

export const USAGE = `npm run bench -- [options]
  (default)          matrix: concurrency 1/16/64 × body 0 B/1 KiB/100 KiB/1 MiB × close reset/graceful,
                     floors (a) and (b) for every cell, then the headline cells 3×
  --quick            concurrency 16/64, bodies 0 B/1 KiB, short windows, one headline round
  --soak N           N seconds of steady load (--soak-rate req/s, default 500), RSS every 5 s
  --profile N        N seconds of load on a sidecar run with node --cpu-prof; prints the top of the profile
  --profile-body B   request body bytes for --profile (default 1024)
  --runs N           headline rounds (default 3)
  --close MODE       reset, graceful or both (default both)
  --connections N    HTTP/2 connections per load run, at most (default 4)
  --workers N        also measure the headline cells with \`workers: N\` (default 2; 0 = not)
  --log-level LEVEL  the sidecar's log_level (default info: one log line per request, as shipped)
  --node-flags="F"   Node/V8 flags for every process of the run (default none), e.g.
                     --node-flags="--single-threaded-gc"
  --compare DIR      this build's sidecar against another build's (DIR = its dist/), loaded side
                     by side at --rate req/s each (default 1500), c64, 0 B/1 KiB, --runs rounds
                     (default 6) over 3 fresh pairs: CPU per request as a ratio per round
                     → compare.json
  --joined           the headline cells (first --close mode) with floor (a+b) too, one process
                     doing both floors' work and nothing else, --runs rounds (default 6):
                     what joining the jobs costs, and the sidecar's own work → joined.json
  --output FILE      results file (default bench/results/latest.json)
`;

export function parseBenchOptions(argv: readonly string[]): BenchOptions {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      quick: { type: 'boolean' },
      soak: { type: 'string' },
      'soak-rate': { type: 'string' },
      profile: { type: 'string' },
      'profile-body': { type: 'string' },
      runs: { type: 'string' },
      close: { type: 'string' },
      connections: { type: 'string' },
      workers: { type: 'string' },
      'log-level': { type: 'string' },
      'node-flags': { type: 'string' },
      compare: { type: 'string' },
      joined: { type: 'boolean' },
      rate: { type: 'string' },
      output: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help === true) {
    process.stdout.write(USAGE);
    process.exit(0);
  }
  const quick = values.quick === true;
  const close = values.close ?? 'both';
  if (!['reset', 'graceful', 'both'].includes(close)) throw new Error(`--close must be reset, graceful or both\n${USAGE}`);
  return {
    quick,
    soakSeconds: positive(values.soak, 0, '--soak'),
    soakRate: positive(values['soak-rate'], 500, '--soak-rate'),
    profileSeconds: positive(values.profile, 0, '--profile'),
    profileBodyBytes: positive(values['profile-body'], 1024, '--profile-body'),
    runs: positive(values.runs, values.compare !== undefined || values.joined === true ? 6 : quick ? 1 : 3, '--runs'),
    concurrencies: quick ? [16, 64] : [1, 16, 64],
    bodies: quick ? [0, 1024] : [0, 1024, 100 * 1024, 1024 * 1024],
    closeModes: close === 'both' ? ['reset', 'graceful'] : [close as CloseMode],
    maxConnections: positive(values.connections, 4, '--connections'),
    workers: positive(values.workers, 2, '--workers'),
    warmupMs: quick ? 300 : 500,
    durationMs: quick ? 1000 : 1500,
    headlineMs: quick ? 1500 : 2500,
    headlineConcurrency: 64,
    headlineBodies: [0, 1024],
    logLevel: values['log-level'] ?? 'info',
    nodeFlags: (values['node-flags'] ?? '').split(/\s+/).filter((flag) => flag !== ''),
    joined: values.joined === true,
    compareDir: values.compare ?? '',
    compareRate: positive(values.rate, 1500, '--rate'),
    output: values.output ?? 'bench/results/latest.json',
  };
}

function positive(text: string | undefined, fallback: number, name: string): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < 0) throw new Error(`${name} takes a whole number, got "${text}"`);
  return value;
}
