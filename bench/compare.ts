// --compare DIR: this build's sidecar against another build (DIR holds that
// build's dist/, e.g. from a git worktree of the base commit), both loaded at
// the same time, at the same fixed rate, each by its own load generator.
// Steps of a few µs per request vanish in the run-to-run spread of separate
// windows; measured side by side, machine noise hits both alike (two copies
// of one build come out within ±3 %).
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { headlineCellsFirstMode, measureExtProc, type Cell, type CellWindow, type Targets } from './measure-cell';
import type { BenchOptions } from './options';
import { startFakeLambdaProcess, startSidecar, startWorker } from './processes';
import type { JobResult } from './protocol';
import { formatBytes, median } from './report';
import { writeSidecarConfig } from './sidecar-config';

/** Sidecar pairs started one after the other; the rounds are shared out among them. */
const COMPARE_PAIRS = 3;

export interface CompareRound {
  readonly cell: Cell;
  readonly base: JobResult;
  readonly current: JobResult;
  /** current CPU µs/request ÷ base CPU µs/request. */
  readonly cpuRatio: number;
}

export interface CompareResult {
  readonly baseDir: string;
  readonly rate: number;
  readonly rounds: CompareRound[];
  /** Median CPU ratio per body size. */
  readonly medians: Record<string, number>;
}

export async function runCompare(options: BenchOptions, log: (line: string) => void): Promise<CompareResult> {
  const baseDir = resolve(options.compareDir);
  if (!existsSync(join(baseDir, 'main.js'))) throw new Error(`--compare ${options.compareDir}: no main.js there; give another build's dist/ directory`);
  const stops: Array<() => Promise<void>> = [];
  try {
    const lambda = await startFakeLambdaProcess(options.nodeFlags);
    stops.push(lambda.stop);
    const config = writeSidecarConfig(lambda.port, options.logLevel);
    stops.push(async () => config.remove());
    const cells = headlineCellsFirstMode(options);
    const rounds: CompareRound[] = [];
    // A process keeps its JIT's luck for life (one pair of the same build came
    // out 7 % apart for a whole run): fresh pairs, alternating who starts first.
    const perPair = Math.ceil(options.runs / COMPARE_PAIRS);
    for (let pair = 0; pair < COMPARE_PAIRS && rounds.length < options.runs * cells.length; pair++) {
      const pairStops: Array<() => Promise<void>> = [];
      const start = async (cli?: string): Promise<Targets> => {
        const worker = await startWorker(options.nodeFlags);
        pairStops.push(worker.stop);
        const sidecar = await startSidecar(config.path, options.nodeFlags, 1, cli);
        pairStops.push(sidecar.stop);
        return { worker, lambda, sidecar, grpcFloor: sidecar, maxConnections: options.maxConnections };
      };
      try {
        const baseFirst = pair % 2 === 0;
        const first = await start(baseFirst ? join(baseDir, 'main.js') : undefined);
        const second = await start(baseFirst ? undefined : join(baseDir, 'main.js'));
        const [base, current] = baseFirst ? [first, second] : [second, first];
        const measure = (targets: Targets, cell: Cell, window: CellWindow) => measureExtProc(targets, targets.sidecar, cell, window, options.compareRate);
        const both = (cell: Cell, window: CellWindow) => Promise.all([measure(base, cell, window), measure(current, cell, window)]);
        // The first rounds after a start ran high on either side: warm both well first.
        for (const cell of cells) await both(cell, { warmupMs: 0, durationMs: 5000 });
        for (let round = 1; round <= perPair && rounds.length < options.runs * cells.length; round++) {
          for (const cell of cells) {
            const [b, c] = await both(cell, { warmupMs: options.warmupMs, durationMs: options.headlineMs });
            const cpuRatio = b.cpuMicrosPerRequest === 0 ? 0 : c.cpuMicrosPerRequest / b.cpuMicrosPerRequest;
            log(`  pair ${pair + 1} round ${round} ${formatBytes(cell.bodyBytes)}: base ${b.cpuMicrosPerRequest.toFixed(0)} µs/req p99 ${b.latency.p99.toFixed(2)} ms, this build ${c.cpuMicrosPerRequest.toFixed(0)} µs/req p99 ${c.latency.p99.toFixed(2)} ms → CPU ${cpuRatio.toFixed(3)}×`);
            rounds.push({ cell, base: b, current: c, cpuRatio });
          }
        }
      } finally {
        for (const stop of pairStops.reverse()) await stop();
      }
    }
    const medians: Record<string, number> = {};
    for (const cell of cells) medians[formatBytes(cell.bodyBytes)] = median(rounds.filter((r) => r.cell === cell).map((r) => r.cpuRatio));
    return { baseDir, rate: options.compareRate, rounds, medians };
  } finally {
    for (const stop of stops.reverse()) await stop();
  }
}
