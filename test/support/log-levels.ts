// Log lines carry their level as pino's label ("warn"), not its number
// (src/observability/logger.ts formatters.level): compare levels through
// pino's own table, and refuse a line whose level is not a known label, so a
// level check can never pass because the field had another shape.
import pino from 'pino';

export type LevelName = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal';

/** pino's number for the line's level label; throws on anything else (a number, a missing field, an unknown name). */
export function levelOf(line: Readonly<Record<string, unknown>>): number {
  const label = line.level;
  const value = typeof label === 'string' ? pino.levels.values[label] : undefined;
  if (value === undefined) throw new Error(`log line without a known level label: ${JSON.stringify(line)}`);
  return value;
}

/** The lines at `level` or above, e.g. `atOrAbove(logs, 'warn')` for warnings, errors and fatals. */
export function atOrAbove<T extends Readonly<Record<string, unknown>>>(lines: readonly T[], level: LevelName): T[] {
  const floor = pino.levels.values[level] ?? 0;
  return lines.filter((line) => levelOf(line) >= floor);
}
