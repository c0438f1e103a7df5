// The benchmark: the sidecar against floor (a+b), the joined floor (one
// process doing only the unavoidable work of a correct sidecar: grpc-js
// ext_proc server, signed invoke, fixed encoded answer; bench/joined-floor-main.ts),
// cell by cell, in alternating order, over rounds. Each round starts a fresh
// sidecar and a fresh floor: a process keeps its JIT's luck for life, so one
// pair of processes would decide every round of a run.
import type { Cell, CellWindow, Targets } from './measure-cell';
import { measureExtProc } from './measure-cell';
import type { BenchOptions } from './options';
import { SIDECAR_CLI, startJoinedFloor, startSidecar, type Started, type StartedSidecar, type Worker } from './processes';
import type { JobResult } from './protocol';
import { formatBytes, median } from './report';
import { rssBytesOf } from './proc-stats';

/** One cell: concurrency, HTTP/2 connections, body, close mode. */
export interface ReferenceCell extends Cell {
  readonly connections: number;
}

export interface ReferenceMeasurement {
  readonly round: number;
  readonly cell: ReferenceCell;
  /** Which of the two was loaded first in this round's cell. */
  readonly first: 'sidecar' | 'floor';
  readonly sidecar: JobResult & { readonly rssBytes: number };
  readonly floor: JobResult;
  /** sidecar rps ÷ floor (a+b) rps. */
  readonly throughputRatio: number;
  /** sidecar CPU µs/request ÷ floor (a+b) CPU µs/request. */
  readonly cpuRatio: number;
  /** sidecar p99 − floor (a+b) p99, ms: what the sidecar's own work adds to the tail. */
  readonly addedP99Ms: number;
}

export interface Spread {
  readonly median: number;
  readonly min: number;
  readonly max: number;
  readonly values: readonly number[];
}

export interface CellSummary {
  readonly key: string;
  readonly cell: ReferenceCell;
  readonly throughput: Spread;
  readonly cpu: Spread;
  readonly addedP99Ms: Spread;
  readonly sidecarRps: number;
  readonly floorRps: number;
  readonly sidecarCpuMicros: number;
  readonly floorCpuMicros: number;
  readonly sidecarP99Ms: number;
  readonly floorP99Ms: number;
  /** read- and write-like system calls per request (/proc/<pid>/io), medians. */
  readonly sidecarSyscalls: { readonly reads: number; readonly writes: number };
  readonly floorSyscalls: { readonly reads: number; readonly writes: number };
  /** Summed over the rounds. */
  readonly sidecarErrors: number;
  readonly floorErrors: number;
  readonly errorSamples: readonly string[];
}

export interface ReferenceResult {
  readonly sidecarCli: string;
  readonly measurements: ReferenceMeasurement[];
  readonly cells: CellSummary[];
}

/** The cells the targets name: c64 on the usual connections and c16 on one, 0 B and 1 KiB, both close modes. */
export function referenceCells(options: Pick<BenchOptions, 'maxConnections' | 'closeModes'>): ReferenceCell[] {
  const cells: ReferenceCell[] = [];
  for (const [concurrency, connections] of [
    [64, Math.min(64, options.maxConnections)],
    [16, 1],
  ] as const) {
    for (const bodyBytes of [0, 1024]) {
      for (const closeMode of options.closeModes) cells.push({ concurrency, connections, bodyBytes, closeMode });
    }
  }
  return cells;
}

export function cellKey(cell: ReferenceCell): string {
  return `c${cell.concurrency}/${cell.connections}conn ${formatBytes(cell.bodyBytes)} ${cell.closeMode}`;
}

export interface ReferenceSetup {
  readonly worker: Worker;
  readonly lambda: Started;
  readonly configPath: string;
}

/** The sidecar CLI a run measures: this build's, or --sidecar DIR's. */
export function sidecarCliOf(options: Pick<BenchOptions, 'sidecarDir'>): string {
  return options.sidecarDir === '' ? SIDECAR_CLI : `${options.sidecarDir.replace(/\/+$/, '')}/main.js`;
}

export async function runReference(setup: ReferenceSetup, options: BenchOptions, log: (line: string) => void): Promise<ReferenceResult> {
  const cli = sidecarCliOf(options);
  const cells = referenceCells(options);
  const window: CellWindow = { warmupMs: options.warmupMs, durationMs: options.durationMs };
  const warmWindow: CellWindow = { warmupMs: 0, durationMs: options.quick ? 500 : 1500 };
  const measurements: ReferenceMeasurement[] = [];
  for (let round = 1; round <= options.runs; round++) {
    const stops: Array<() => Promise<void>> = [];
    try {
      // Fresh processes, started in alternating order.
      let sidecar: StartedSidecar | undefined;
      let floor: Started | undefined;
      const startSide = async (): Promise<void> => {
        sidecar = await startSidecar(setup.configPath, options.nodeFlags, 1, cli);
        stops.push(sidecar.stop);
      };
      const startFloor = async (): Promise<void> => {
        floor = await startJoinedFloor(options.nodeFlags, setup.lambda.port);
        stops.push(floor.stop);
      };
      if (round % 2 === 1) await startSide().then(startFloor);
      else await startFloor().then(startSide);
      if (sidecar === undefined || floor === undefined) throw new Error('bench processes did not start');
      const subjects = { sidecar: targetsFor(setup, sidecar), floor: targetsFor(setup, floor) };
      // JIT warm-up of both: a bodiless and a body request take different paths, as do the close modes.
      for (const warm of [cells[0], cells.find((c) => c.bodyBytes > 0 && c.closeMode !== cells[0]?.closeMode) ?? cells[1]]) {
        if (warm === undefined) continue;
        await measure(subjects.sidecar, warm, warmWindow);
        await measure(subjects.floor, warm, warmWindow);
      }
      const parts: string[] = [];
      for (const [index, cell] of cells.entries()) {
        const sidecarFirst = (round + index) % 2 === 1;
        let sidecarRun: JobResult;
        let floorRun: JobResult;
        if (sidecarFirst) {
          sidecarRun = await measure(subjects.sidecar, cell, window);
          floorRun = await measure(subjects.floor, cell, window);
        } else {
          floorRun = await measure(subjects.floor, cell, window);
          sidecarRun = await measure(subjects.sidecar, cell, window);
        }
        const entry: ReferenceMeasurement = {
          round,
          cell,
          first: sidecarFirst ? 'sidecar' : 'floor',
          sidecar: { ...sidecarRun, rssBytes: rssBytesOf(sidecar.pid) },
          floor: floorRun,
          throughputRatio: ratio(sidecarRun.rps, floorRun.rps),
          cpuRatio: ratio(sidecarRun.cpuMicrosPerRequest, floorRun.cpuMicrosPerRequest),
          addedP99Ms: sidecarRun.latency.p99 - floorRun.latency.p99,
        };
        measurements.push(entry);
        const errors = sidecarRun.errors + floorRun.errors > 0 ? ` errors ${sidecarRun.errors}/${floorRun.errors}` : '';
        parts.push(`${cellKey(cell)} ${entry.throughputRatio.toFixed(2)}/${entry.cpuRatio.toFixed(2)}${errors}`);
      }
      log(`  round ${round} (throughput ÷ floor / CPU ÷ floor): ${parts.join(', ')}`);
    } finally {
      for (const stop of stops.reverse()) await stop();
    }
  }
  return { sidecarCli: cli, measurements, cells: summarize(cells, measurements) };
}

function targetsFor(setup: ReferenceSetup, server: Started): Targets {
  return { worker: setup.worker, lambda: setup.lambda, sidecar: server, grpcFloor: server, maxConnections: 1 };
}

function measure(targets: Targets, cell: ReferenceCell, window: CellWindow): Promise<JobResult> {
  return measureExtProc(targets, targets.sidecar, cell, window);
}

function ratio(value: number, base: number): number {
  return base === 0 ? 0 : value / base;
}

export function spreadOf(values: readonly number[]): Spread {
  return { median: median(values), min: Math.min(...values), max: Math.max(...values), values };
}

function summarize(cells: readonly ReferenceCell[], measurements: readonly ReferenceMeasurement[]): CellSummary[] {
  return cells.map((cell) => {
    const mine = measurements.filter((m) => m.cell === cell);
    const samples = new Set<string>();
    for (const m of mine) for (const s of [...m.sidecar.errorSamples, ...m.floor.errorSamples.map((e) => `floor: ${e}`)]) samples.add(s);
    return {
      key: cellKey(cell),
      cell,
      throughput: spreadOf(mine.map((m) => m.throughputRatio)),
      cpu: spreadOf(mine.map((m) => m.cpuRatio)),
      addedP99Ms: spreadOf(mine.map((m) => m.addedP99Ms)),
      sidecarRps: median(mine.map((m) => m.sidecar.rps)),
      floorRps: median(mine.map((m) => m.floor.rps)),
      sidecarCpuMicros: median(mine.map((m) => m.sidecar.cpuMicrosPerRequest)),
      floorCpuMicros: median(mine.map((m) => m.floor.cpuMicrosPerRequest)),
      sidecarP99Ms: median(mine.map((m) => m.sidecar.latency.p99)),
      floorP99Ms: median(mine.map((m) => m.floor.latency.p99)),
      sidecarSyscalls: { reads: median(mine.map((m) => m.sidecar.readsPerRequest ?? 0)), writes: median(mine.map((m) => m.sidecar.writesPerRequest ?? 0)) },
      floorSyscalls: { reads: median(mine.map((m) => m.floor.readsPerRequest ?? 0)), writes: median(mine.map((m) => m.floor.writesPerRequest ?? 0)) },
      sidecarErrors: mine.reduce((sum, m) => sum + m.sidecar.errors, 0),
      floorErrors: mine.reduce((sum, m) => sum + m.floor.errors, 0),
      errorSamples: [...samples].slice(0, 5),
    };
  });
}

// Targets of the restated performance issue, against floor (a+b).
export const TARGETS = { throughputAtLeast: 0.9, cpuAtMost: 1.15, c16AddedP99BelowMs: 2 } as const;

const io = (calls: { readonly reads: number; readonly writes: number }): string => `${calls.reads.toFixed(2)}+${calls.writes.toFixed(2)}`;
const range = (s: Spread, digits = 2): string => `${s.median.toFixed(digits)} (${s.min.toFixed(digits)}–${s.max.toFixed(digits)})`;

/** Markdown table: per cell, medians with their range over the rounds, absolute values, errors, whether the targets hold. */
export function formatReference(summaries: readonly CellSummary[]): string {
  const lines = [
    '| cell | thr ÷ floor (a+b) | CPU ÷ floor (a+b) | sidecar req/s | floor req/s | sidecar µs/req | floor µs/req | p99 ms sidecar / floor | +p99 ms | syscalls/req sidecar / floor (read+write) | errors sidecar / floor | targets |',
    '|---|---|---|---:|---:|---:|---:|---:|---|---:|---:|---|',
  ];
  for (const s of summaries) {
    const met: string[] = [];
    met.push(s.throughput.median >= TARGETS.throughputAtLeast ? 'thr ok' : 'thr MISS');
    met.push(s.cpu.median <= TARGETS.cpuAtMost ? 'CPU ok' : 'CPU MISS');
    if (s.cell.concurrency === 16) met.push(s.addedP99Ms.median < TARGETS.c16AddedP99BelowMs ? 'p99 ok' : 'p99 MISS');
    if (s.sidecarErrors > 0) met.push('ERRORS');
    lines.push(
      `| ${s.key} | ${range(s.throughput)} | ${range(s.cpu)} | ${s.sidecarRps.toFixed(0)} | ${s.floorRps.toFixed(0)} | ${s.sidecarCpuMicros.toFixed(0)} | ${s.floorCpuMicros.toFixed(0)} | ${s.sidecarP99Ms.toFixed(2)} / ${s.floorP99Ms.toFixed(2)} | ${range(s.addedP99Ms)} | ${io(s.sidecarSyscalls)} / ${io(s.floorSyscalls)} | ${s.sidecarErrors} / ${s.floorErrors} | ${met.join(', ')} |`,
    );
  }
  return lines.join('\n');
}
