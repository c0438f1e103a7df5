// The arithmetic of `npm run bench -- --streaming` (bench/streaming-summary.ts):
// what the docs' "added by the sidecar" and RSS growth numbers are computed from.
import t from 'tap';
import { bytesPerSecond, percentiles, summarizeFirstChunk, summarizeRss } from '../../bench/streaming-summary';

const range = (from: number, count: number, step = 1): number[] => Array.from({ length: count }, (_, i) => from + i * step);

t.test('percentiles are nearest-rank over the sorted samples, whatever their order', async (t) => {
  const samples = range(1, 200).reverse();
  t.same(percentiles(samples), { count: 200, p50: 101, p99: 199, max: 200 });
  t.same(percentiles([]), { count: 0, p50: 0, p99: 0, max: 0 });
  t.same(percentiles([7]), { count: 1, p50: 7, p99: 7, max: 7 });
});

t.test('added time is sidecar minus direct, pooled over rounds and per round', async (t) => {
  // Round 1: sidecar 1..100 ms, direct 0.5..50 ms; round 2: sidecar 101..200 ms, direct 50.5..100 ms.
  const rounds = [
    { sidecar: range(1, 100), direct: range(0.5, 100, 0.5) },
    { sidecar: range(101, 100), direct: range(50.5, 100, 0.5) },
  ];
  const summary = summarizeFirstChunk(rounds);
  t.same(summary.sidecar, { count: 200, p50: 101, p99: 199, max: 200 });
  t.same(summary.direct, { count: 200, p50: 50.5, p99: 99.5, max: 100 });
  t.same(summary.added, { p50: 50.5, p99: 99.5 });
  t.same(summary.addedPerRound, [
    { p50: 51 - 25.5, p99: 100 - 50 },
    { p50: 151 - 75.5, p99: 200 - 100 },
  ]);
});

t.test('bytes/s from bytes and milliseconds; no time, no rate', async (t) => {
  t.equal(bytesPerSecond(256 * 1024 * 1024, 2000), 128 * 1024 * 1024);
  t.equal(bytesPerSecond(1024, 0), 0);
});

t.test('RSS growth is the peak during the stream over the median before it', async (t) => {
  const MiB = 1024 * 1024;
  // One high sample before the stream (a GC not yet done) does not raise the baseline.
  const summary = summarizeRss([100 * MiB, 101 * MiB, 140 * MiB, 100 * MiB, 102 * MiB], [101 * MiB, 109 * MiB, 104 * MiB]);
  t.same(summary, { baselineBytes: 101 * MiB, peakBytes: 109 * MiB, growthBytes: 8 * MiB, samples: 3 });
  t.throws(() => summarizeRss([], [1]), /samples before and during/);
  t.throws(() => summarizeRss([1], []), /samples before and during/);
});
