// A bounded latency recorder and its summary.

export interface LatencySummary {
  readonly count: number;
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
  readonly mean: number;
}

export interface LatencyRecorder {
  record(ms: number): void;
  reset(): void;
  summary(): LatencySummary;
}

export function createLatencyRecorder(capacity = 1_000_000): LatencyRecorder {
  const samples = new Float64Array(capacity);
  let count = 0;
  let seen = 0;
  let sum = 0;
  let max = 0;
  return {
    record(ms) {
      seen += 1;
      sum += ms;
      if (ms > max) max = ms;
      // Past capacity, keep a uniform sample (reservoir) so percentiles stay fair.
      if (count < capacity) samples[count++] = ms;
      else {
        const slot = Math.floor(Math.random() * seen);
        if (slot < capacity) samples[slot] = ms;
      }
    },
    reset() {
      count = 0;
      seen = 0;
      sum = 0;
      max = 0;
    },
    summary() {
      if (count === 0) return { count: 0, p50: 0, p99: 0, max: 0, mean: 0 };
      const sorted = samples.slice(0, count).sort();
      const at = (q: number) => sorted[Math.min(count - 1, Math.floor(q * count))] ?? 0;
      return { count: seen, p50: at(0.5), p99: at(0.99), max, mean: sum / seen };
    },
  };
}
