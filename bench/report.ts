// Tables for the terminal (and docs/performance.md) and the headline ratios.
import { cpus, release } from 'node:os';
import type { CellResult } from './measure-cell';

export interface Machine {
  readonly cpuModel: string;
  readonly cpus: number;
  readonly node: string;
  readonly kernel: string;
}

export interface HeadlineRound {
  readonly round: number;
  readonly cells: readonly CellResult[];
}

export function describeMachine(): Machine {
  const list = cpus();
  return { cpuModel: list[0]?.model.trim() ?? 'unknown', cpus: list.length, node: process.version, kernel: release() };
}

export function formatBytes(bytes: number): string {
  if (bytes >= 1024 * 1024) return `${bytes / (1024 * 1024)} MiB`;
  if (bytes >= 1024) return `${bytes / 1024} KiB`;
  return `${bytes} B`;
}

const fixed = (value: number, digits = 0): string => value.toFixed(digits);
const ms = (value: number): string => value.toFixed(value < 10 ? 2 : 1);

/** Markdown table: one line per cell, sidecar first, then the floors and the ratios. */
export function formatMatrix(results: readonly CellResult[]): string {
  const head = [
    '| conc | body | close | sidecar req/s | p50 ms | p99 ms | max ms | CPU µs/req | RSS MiB | errors (goaway) | floor a req/s | a µs/req | floor b req/s | b µs/req | composite req/s | thr ÷ floor | CPU ÷ floors | +p99 ms |',
    '|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  const lines = results.map((r) =>
    [
      r.concurrency,
      formatBytes(r.bodyBytes),
      r.closeMode,
      fixed(r.sidecar.rps),
      ms(r.sidecar.latency.p50),
      ms(r.sidecar.latency.p99),
      ms(r.sidecar.latency.max),
      fixed(r.sidecar.cpuMicrosPerRequest),
      fixed(r.sidecar.rssBytes / (1024 * 1024)),
      `${r.sidecar.errors} (${r.sidecar.goaways})`,
      fixed(r.floorA.rps),
      fixed(r.floorA.cpuMicrosPerRequest),
      fixed(r.floorB.rps),
      fixed(r.floorB.cpuMicrosPerRequest),
      fixed(r.compositeRps),
      fixed(r.throughputRatio, 2),
      fixed(r.cpuRatio, 2),
      ms(r.addedP99Ms),
    ].join(' | '),
  );
  return [...head, ...lines.map((line) => `| ${line} |`)].join('\n');
}

/** Headline ratios per round, and their spread. */
export function formatHeadline(rounds: readonly HeadlineRound[]): string {
  const lines = ['| round | workers | conc | body | close | sidecar req/s | composite req/s | thr ÷ floor | CPU µs/req | floors µs/req | CPU ÷ floors | errors (goaway) |', '|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|'];
  for (const round of rounds) {
    for (const r of round.cells) {
      lines.push(
        `| ${round.round} | ${r.workers} | ${r.concurrency} | ${formatBytes(r.bodyBytes)} | ${r.closeMode} | ${fixed(r.sidecar.rps)} | ${fixed(r.compositeRps)} | ${fixed(r.throughputRatio, 2)} | ${fixed(r.sidecar.cpuMicrosPerRequest)} | ${fixed(r.floorA.cpuMicrosPerRequest + r.floorB.cpuMicrosPerRequest)} | ${fixed(r.cpuRatio, 2)} | ${r.sidecar.errors} (${r.sidecar.goaways}) |`,
      );
    }
  }
  return lines.join('\n');
}

export interface Spread {
  readonly key: string;
  readonly throughput: readonly number[];
  readonly cpu: readonly number[];
}

export function headlineSpread(rounds: readonly HeadlineRound[]): Spread[] {
  const byKey = new Map<string, { throughput: number[]; cpu: number[] }>();
  for (const round of rounds) {
    for (const r of round.cells) {
      const key = `c${r.concurrency} ${formatBytes(r.bodyBytes)} ${r.closeMode}${r.workers > 1 ? ` workers ${r.workers}` : ''}`;
      const entry = byKey.get(key) ?? { throughput: [], cpu: [] };
      entry.throughput.push(Number(r.throughputRatio.toFixed(2)));
      entry.cpu.push(Number(r.cpuRatio.toFixed(2)));
      byKey.set(key, entry);
    }
  }
  return [...byKey.entries()].map(([key, value]) => ({ key, ...value }));
}

export function formatSpread(spread: readonly Spread[]): string {
  return spread.map((s) => `  ${s.key.padEnd(32)} throughput ÷ composite floor: ${s.throughput.join(' / ')}   CPU ÷ (floor a + floor b): ${s.cpu.join(' / ')}`).join('\n');
}

/** The middle value (the upper one of an even count): one round off by a few % does not move it. */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}
