// --joined: the composite floor's model (1/composite = 1/a + 1/b: one event
// loop doing both floors' work costs their sum) checked against floor (a+b),
// a process that really does both and nothing else, next to the sidecar, in
// the headline cells. Sidecar ÷ floor (a+b) is what the sidecar's own work
// costs; floor (a+b) ÷ composite is what joining the two jobs costs.
import type { Environment } from './environment';
import { headlineCellsFirstMode, measureCell, measureExtProc, measureFloorB, type CellResult, type Targets } from './measure-cell';
import type { BenchOptions } from './options';
import type { JobResult } from './protocol';
import { formatBytes, median } from './report';
import type { Started } from './processes';

export interface JoinedRound {
  readonly round: number;
  readonly cell: CellResult;
  readonly joined: JobResult;
  /** floor (a+b) rps ÷ composite floor rps. */
  readonly joinedRatio: number;
  /** sidecar rps ÷ floor (a+b) rps. */
  readonly sidecarToJoined: number;
  /** sidecar CPU µs/request ÷ floor (a+b) CPU µs/request. */
  readonly cpuToJoined: number;
}

export interface JoinedResult {
  readonly rounds: JoinedRound[];
  /** Medians per body size: throughput ratios to composite and to floor (a+b), CPU ratio to floor (a+b). */
  readonly medians: Record<string, { readonly joinedToComposite: number; readonly sidecarToComposite: number; readonly sidecarToJoined: number; readonly cpuToJoined: number }>;
}

export async function runJoined(env: Environment, joinedFloor: Started, options: BenchOptions, log: (line: string) => void): Promise<JoinedResult> {
  const targets: Targets = { worker: env.worker, lambda: env.lambda, sidecar: env.sidecar, grpcFloor: env.grpcFloor, maxConnections: options.maxConnections };
  const cells = headlineCellsFirstMode(options);
  const window = { warmupMs: options.warmupMs, durationMs: options.headlineMs };
  const warm = { warmupMs: 0, durationMs: 2000 };
  for (const cell of cells) {
    await measureCell(targets, cell, warm, await measureFloorB(targets, cell.concurrency, cell.bodyBytes, warm));
    await measureExtProc(targets, joinedFloor, cell, warm);
  }
  const rounds: JoinedRound[] = [];
  for (let round = 1; round <= options.runs; round++) {
    for (const cell of cells) {
      const result = await measureCell(targets, cell, window, await measureFloorB(targets, cell.concurrency, cell.bodyBytes, window));
      const joined = await measureExtProc(targets, joinedFloor, cell, window);
      const entry: JoinedRound = {
        round,
        cell: result,
        joined,
        joinedRatio: ratio(joined.rps, result.compositeRps),
        sidecarToJoined: ratio(result.sidecar.rps, joined.rps),
        cpuToJoined: ratio(result.sidecar.cpuMicrosPerRequest, joined.cpuMicrosPerRequest),
      };
      rounds.push(entry);
      log(
        `  round ${round} ${formatBytes(cell.bodyBytes)}: composite ${result.compositeRps.toFixed(0)} req/s (a ${result.floorA.cpuMicrosPerRequest.toFixed(0)} + b ${result.floorB.cpuMicrosPerRequest.toFixed(0)} µs), ` +
          `floor (a+b) ${joined.rps.toFixed(0)} req/s ${joined.cpuMicrosPerRequest.toFixed(0)} µs → ${entry.joinedRatio.toFixed(2)} of composite; ` +
          `sidecar ${result.sidecar.rps.toFixed(0)} req/s ${result.sidecar.cpuMicrosPerRequest.toFixed(0)} µs → ${result.throughputRatio.toFixed(2)} of composite, ${entry.sidecarToJoined.toFixed(2)} of floor (a+b); errors ${joined.errors + result.sidecar.errors}`,
      );
    }
  }
  const medians: JoinedResult['medians'] = {};
  for (const cell of cells) {
    const mine = rounds.filter((r) => r.cell.bodyBytes === cell.bodyBytes);
    medians[formatBytes(cell.bodyBytes)] = {
      joinedToComposite: median(mine.map((r) => r.joinedRatio)),
      sidecarToComposite: median(mine.map((r) => r.cell.throughputRatio)),
      sidecarToJoined: median(mine.map((r) => r.sidecarToJoined)),
      cpuToJoined: median(mine.map((r) => r.cpuToJoined)),
    };
  }
  return { rounds, medians };
}

function ratio(value: number, base: number): number {
  return base === 0 ? 0 : value / base;
}
