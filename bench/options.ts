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
  readonly closeModes: readonly CloseMode[];
  /** HTTP/2 connections of the c64 cells (the c16 cells use one). */
  readonly maxConnections: number;
  readonly warmupMs: number;
  /** Measured window of each reference cell. */
  readonly durationMs: number;
  /** Measured window of --compare and --joined rounds. */
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
  /** Response streaming instead of the matrix: first chunk added, bytes/s, RSS (bench/streaming.ts). */
  readonly streaming: boolean;
  /** Another build's dist/ to compare this one with; '' = no comparison. */
  readonly compareDir: string;
  /** Requests per second each sidecar gets in a comparison. */
  readonly compareRate: number;
  /** Another build's dist/ whose sidecar the reference bench measures instead of this one's; '' = this build. */
  readonly sidecarDir: string;
  readonly output: string;
}

export const USAGE = `npm run bench -- [options]
  (default)          the sidecar against floor (a+b), the joined floor, in 8 cells: c64 on
                     --connections connections and c16 on one, 0 B and 1 KiB, close reset and
                     graceful; --runs rounds (default 3), each with a fresh sidecar and floor,
                     alternating which is loaded first; prints per cell the median and range of
                     throughput ÷ floor and CPU/request ÷ floor → bench/results/latest.json
  --quick            one round, short windows
  --sidecar DIR      measure (or --profile) the sidecar of another build (DIR = its dist/) instead of this one
  --soak N           N seconds of steady load (--soak-rate req/s, default 500), RSS every 5 s
  --profile N        N seconds of load on a sidecar run with node --cpu-prof; prints the top of the profile
  --profile-body B   request body bytes for --profile (default 1024)
  --runs N           rounds (default 3; --compare and --joined: 6)
  --close MODE       reset, graceful or both (default both)
  --connections N    HTTP/2 connections of the c64 cells (default 4)
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
  --streaming        response streaming (invoke_mode RESPONSE_STREAM): time to first chunk added
                     at c16 over a direct InvokeWithResponseStream client, bytes/s of one large
                     stream, sidecar RSS during a 64 MiB stream to a slow reader → streaming.json
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
      'log-level': { type: 'string' },
      'node-flags': { type: 'string' },
      compare: { type: 'string' },
      joined: { type: 'boolean' },
      streaming: { type: 'boolean' },
      rate: { type: 'string' },
      sidecar: { type: 'string' },
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
    closeModes: close === 'both' ? ['reset', 'graceful'] : [close as CloseMode],
    maxConnections: positive(values.connections, 4, '--connections'),
    warmupMs: quick ? 300 : 500,
    durationMs: quick ? 1000 : 3500,
    headlineMs: quick ? 1500 : 2500,
    headlineConcurrency: 64,
    headlineBodies: [0, 1024],
    logLevel: values['log-level'] ?? 'info',
    nodeFlags: (values['node-flags'] ?? '').split(/\s+/).filter((flag) => flag !== ''),
    joined: values.joined === true,
    streaming: values.streaming === true,
    compareDir: values.compare ?? '',
    compareRate: positive(values.rate, 1500, '--rate'),
    sidecarDir: values.sidecar ?? '',
    output: values.output ?? 'bench/results/latest.json',
  };
}

function positive(text: string | undefined, fallback: number, name: string): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < 0) throw new Error(`${name} takes a whole number, got "${text}"`);
  return value;
}
