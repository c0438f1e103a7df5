// A counter and a histogram whose labelled series are plain objects kept by
// the caller: counting a request is one addition (a histogram: a short bucket
// search), not prom-client's per-call label hashing, validation and
// allocation (its `labels()` child hashes again on every inc/observe). They
// are registered in a prom-client Registry and give it, and the cluster
// aggregation, exactly what prom-client's Counter and Histogram give.
import type { Registry } from 'prom-client';

type Labels = Readonly<Record<string, string>>;

interface Sample {
  readonly labels: Record<string, string | number>;
  readonly value: number;
  readonly metricName?: string;
  readonly sharedLabels?: Labels;
}

interface Collected {
  readonly name: string;
  readonly help: string;
  readonly type: 'counter' | 'histogram';
  readonly values: Sample[];
  readonly aggregator: 'sum';
}

export interface CounterSeries {
  inc(): void;
}

export interface HistogramSeries {
  observe(value: number): void;
}

/** A counter; `series(labels)` is called once per label set, its result kept and incremented. */
export interface LabelledCounter {
  series(labels: Labels): CounterSeries;
}

export interface LabelledHistogram {
  series(labels: Labels): HistogramSeries;
}

export function registerCounter(registry: Registry, name: string, help: string): LabelledCounter {
  const all: Array<{ labels: Labels; value: number }> = [];
  const collected = async (): Promise<Collected> => ({ name, help, type: 'counter', values: all.map((s) => ({ labels: { ...s.labels }, value: s.value })), aggregator: 'sum' });
  registry.registerMetric({ name, help, type: 'counter', aggregator: 'sum', get: collected } as unknown as Parameters<Registry['registerMetric']>[0]);
  return {
    series(labels) {
      const entry = { labels, value: 0 };
      all.push(entry);
      return {
        inc() {
          entry.value += 1;
        },
      };
    },
  };
}

export function registerHistogram(registry: Registry, name: string, help: string, buckets: readonly number[]): LabelledHistogram {
  const bounds = [...buckets].sort((a, b) => a - b);
  const all: Array<{ labels: Labels; counts: number[]; sum: number; count: number }> = [];
  // prom-client's shape: bucket samples carry `le` in labels and the series' labels as sharedLabels,
  // which the registry's text output writes after `le`; get() (JSON, cluster aggregation) merges them.
  const forText = (): Collected => {
    const values: Sample[] = [];
    for (const s of all) {
      let cumulative = 0;
      for (let i = 0; i < bounds.length; i++) {
        cumulative += s.counts[i] ?? 0;
        values.push({ labels: { le: bounds[i] as number }, sharedLabels: s.labels, value: cumulative, metricName: `${name}_bucket` });
      }
      values.push({ labels: { le: '+Inf' }, sharedLabels: s.labels, value: s.count, metricName: `${name}_bucket` });
      values.push({ labels: {}, sharedLabels: s.labels, value: s.sum, metricName: `${name}_sum` });
      values.push({ labels: {}, sharedLabels: s.labels, value: s.count, metricName: `${name}_count` });
    }
    return { name, help, type: 'histogram', values, aggregator: 'sum' };
  };
  const metric = {
    name,
    help,
    type: 'histogram',
    aggregator: 'sum',
    getForPromString: async () => forText(),
    get: async (): Promise<Collected> => {
      const text = forText();
      return { ...text, values: text.values.map(({ labels, sharedLabels, value, metricName }) => ({ labels: { ...labels, ...sharedLabels }, value, metricName })) };
    },
  };
  registry.registerMetric(metric as unknown as Parameters<Registry['registerMetric']>[0]);
  return {
    series(labels) {
      const entry = { labels, counts: bounds.map(() => 0), sum: 0, count: 0 };
      all.push(entry);
      return {
        observe(value) {
          entry.sum += value;
          entry.count += 1;
          // Values past the largest bound count in +Inf only.
          for (let i = 0; i < bounds.length; i++) {
            if (value <= (bounds[i] as number)) {
              entry.counts[i] = (entry.counts[i] ?? 0) + 1;
              return;
            }
          }
        },
      };
    },
  };
}
