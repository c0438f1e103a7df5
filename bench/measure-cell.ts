// One cell of the matrix: floor (b), then floor (a) and the sidecar under the
// same load generator, back to back, and the ratios between them.
//
// The model: for every request the sidecar does the work of floor (a) (one
// ext_proc exchange) and of floor (b) (one signed invoke) on one event loop,
// so their costs per request add: 1/composite = 1/floorA_rps + 1/floorB_rps.
import { rssBytesOf } from './proc-stats';
import type { BenchOptions } from './options';
import type { CloseMode, JobResult } from './protocol';
import type { Started, Worker } from './processes';

export interface Cell {
  readonly concurrency: number;
  readonly bodyBytes: number;
  readonly closeMode: CloseMode;
  /** HTTP/2 connections the load uses; by default min(concurrency, --connections). */
  readonly connections?: number;
}

export interface CellResult extends Cell {
  /** The sidecar's `workers` setting in this measurement. */
  readonly workers: number;
  readonly sidecar: JobResult & { readonly rssBytes: number };
  readonly floorA: JobResult;
  readonly floorB: JobResult;
  readonly compositeRps: number;
  /** sidecar rps ÷ composite floor rps. */
  readonly throughputRatio: number;
  /** sidecar CPU µs/request ÷ (floor a + floor b CPU µs/request). */
  readonly cpuRatio: number;
  /** Sidecar latency minus the sum of the floors' latencies, ms. */
  readonly addedP50Ms: number;
  readonly addedP99Ms: number;
}

export interface Targets {
  readonly worker: Worker;
  readonly lambda: Started;
  readonly sidecar: Started;
  readonly grpcFloor: Started;
  readonly maxConnections: number;
}

export interface CellWindow {
  readonly warmupMs: number;
  readonly durationMs: number;
}

/** The headline cells (c64, 0 B and 1 KiB) in the first --close mode: what --compare and --joined measure. */
export function headlineCellsFirstMode(options: Pick<BenchOptions, 'headlineBodies' | 'headlineConcurrency' | 'closeModes'>): Cell[] {
  return options.headlineBodies.map((bodyBytes) => ({ concurrency: options.headlineConcurrency, bodyBytes, closeMode: options.closeModes[0] ?? 'reset' }));
}

export function compositeRps(floorARps: number, floorBRps: number): number {
  if (floorARps <= 0 || floorBRps <= 0) return 0;
  return 1 / (1 / floorARps + 1 / floorBRps);
}

export async function measureFloorB(targets: Targets, concurrency: number, bodyBytes: number, window: CellWindow): Promise<JobResult> {
  return targets.worker.run({ kind: 'invoke', port: targets.lambda.port, concurrency, payloadBytes: bodyBytes, ...window });
}

export async function measureExtProc(targets: Targets, server: Started, cell: Cell, window: CellWindow, rate = 0): Promise<JobResult> {
  return targets.worker.run({
    kind: 'extproc',
    port: server.port,
    serverPid: server.pid,
    concurrency: cell.concurrency,
    connections: cell.connections ?? Math.min(cell.concurrency, targets.maxConnections),
    bodyBytes: cell.bodyBytes,
    closeMode: cell.closeMode,
    rate,
    ...window,
  });
}

export async function measureCell(targets: Targets, cell: Cell, window: CellWindow, floorB: JobResult): Promise<CellResult> {
  const floorA = await measureExtProc(targets, targets.grpcFloor, cell, window);
  return measureSidecar(targets, { sidecar: targets.sidecar, workers: 1 }, cell, window, floorA, floorB);
}

/** One sidecar (or one with `workers: N`) against floors already measured for the cell. */
export async function measureSidecar(targets: Targets, subject: { readonly sidecar: Started; readonly workers: number }, cell: Cell, window: CellWindow, floorA: JobResult, floorB: JobResult): Promise<CellResult> {
  const sidecarRun = await measureExtProc(targets, subject.sidecar, cell, window);
  const sidecar = { ...sidecarRun, rssBytes: rssBytesOf(subject.sidecar.pid) };
  const composite = compositeRps(floorA.rps, floorB.rps);
  const floorCpu = floorA.cpuMicrosPerRequest + floorB.cpuMicrosPerRequest;
  return {
    ...cell,
    workers: subject.workers,
    sidecar,
    floorA,
    floorB,
    compositeRps: composite,
    throughputRatio: composite === 0 ? 0 : sidecar.rps / composite,
    cpuRatio: floorCpu === 0 ? 0 : sidecar.cpuMicrosPerRequest / floorCpu,
    addedP50Ms: sidecar.latency.p50 - floorA.latency.p50 - floorB.latency.p50,
    addedP99Ms: sidecar.latency.p99 - floorA.latency.p99 - floorB.latency.p99,
  };
}

