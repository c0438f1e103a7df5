// The machine a run was on, byte sizes and medians for the tables.
import { cpus, release } from 'node:os';

export interface Machine {
  readonly cpuModel: string;
  readonly cpus: number;
  readonly node: string;
  readonly kernel: string;
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

/** The middle value (the upper one of an even count): one round off by a few % does not move it. */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}
