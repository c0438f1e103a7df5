// The arithmetic of `npm run bench -- --streaming`, kept apart from the
// processes so it can be tested: percentiles of first-chunk times, the time
// the sidecar adds over the direct client, bytes/s, and the RSS peak.

export interface Percentiles {
  readonly count: number;
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
}

/** Nearest-rank percentiles (the value at floor(q·n) of the sorted samples, as bench/latency.ts). */
export function percentiles(samples: readonly number[]): Percentiles {
  if (samples.length === 0) return { count: 0, p50: 0, p99: 0, max: 0 };
  const sorted = Float64Array.from(samples).sort();
  const at = (q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
  return { count: sorted.length, p50: at(0.5), p99: at(0.99), max: sorted[sorted.length - 1] ?? 0 };
}

export interface FirstChunkRound {
  /** ms from request_headers sent to the first streamed body message, per request. */
  readonly sidecar: readonly number[];
  /** ms from the signed request to the first PayloadChunk read directly from the fake, per request. */
  readonly direct: readonly number[];
}

export interface FirstChunkSummary {
  readonly sidecar: Percentiles;
  readonly direct: Percentiles;
  /** sidecar − direct, percentile by percentile, over all rounds pooled. */
  readonly added: { readonly p50: number; readonly p99: number };
  /** The same, round by round: how much the added time moves between rounds. */
  readonly addedPerRound: ReadonlyArray<{ readonly p50: number; readonly p99: number }>;
}

export function summarizeFirstChunk(rounds: readonly FirstChunkRound[]): FirstChunkSummary {
  const sidecar = percentiles(rounds.flatMap((round) => round.sidecar));
  const direct = percentiles(rounds.flatMap((round) => round.direct));
  const addedPerRound = rounds.map((round) => {
    const s = percentiles(round.sidecar);
    const d = percentiles(round.direct);
    return { p50: s.p50 - d.p50, p99: s.p99 - d.p99 };
  });
  return { sidecar, direct, added: { p50: sidecar.p50 - direct.p50, p99: sidecar.p99 - direct.p99 }, addedPerRound };
}

/** Bytes per second of a stream of `bytes` read in `ms`. */
export function bytesPerSecond(bytes: number, ms: number): number {
  return ms > 0 ? (bytes * 1000) / ms : 0;
}

export interface RssSummary {
  readonly baselineBytes: number;
  readonly peakBytes: number;
  /** peak − baseline: what the stream cost the sidecar at most. */
  readonly growthBytes: number;
  readonly samples: number;
}

/** The baseline is the median of the samples taken before the stream (one odd sample does not move it). */
export function summarizeRss(before: readonly number[], during: readonly number[]): RssSummary {
  if (before.length === 0 || during.length === 0) throw new Error('RSS needs samples before and during the stream');
  const sorted = [...before].sort((a, b) => a - b);
  const baselineBytes = sorted[Math.floor(sorted.length / 2)] ?? 0;
  const peakBytes = Math.max(...during);
  return { baselineBytes, peakBytes, growthBytes: peakBytes - baselineBytes, samples: during.length };
}
