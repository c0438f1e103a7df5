// The counter and histogram of labelled-series.ts against prom-client's own
// Counter and Histogram fed the same samples: the same /metrics text, the
// same JSON (what cluster workers send the primary), the same sums after
// AggregatorRegistry.aggregate.
import { AggregatorRegistry, Counter, Histogram, Registry, type MetricObjectWithValues, type MetricValue } from 'prom-client';
import t from 'tap';
import { registerCounter, registerHistogram } from '../../src/observability/labelled-series';

const BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900];
// Label values as the config may have them: quote, backslash, newline, non-ASCII.
const REQUESTS: Array<[string, string, string]> = [
  ['ok', '200', 'none'],
  ['ok', '200', 'none'],
  ['we"ird\\route\nx', '502', 'lambda_error'],
  ['(unknown)', '500', 'unknown_route'],
  ['ok', '499', 'cancelled'],
  ['é-route', '200', 'none'],
];
// Below, on and above bounds, past the largest bound (+Inf only), zero.
const OBSERVED: Array<[string, string, number]> = [
  ['ok', 'ok-fn', 0.001],
  ['ok', 'ok-fn', 0.005],
  ['ok', 'ok-fn', 0.0051],
  ['ok', 'ok-fn', 0.03],
  ['ok', 'ok-fn', 1],
  ['ok', 'ok-fn', 900],
  ['ok', 'ok-fn', 1000],
  ['ok', 'ok-fn', 0],
  ['we"ird\\route\nx', 'f', 0.2],
];

function withPromClient(): Registry {
  const registry = new Registry();
  const requests = new Counter({ name: 'x_requests_total', help: 'Requests "counted" \\ here.', labelNames: ['route', 'status', 'cause'] as const, registers: [registry] });
  const durations = new Histogram({ name: 'x_duration_seconds', help: 'Durations.', labelNames: ['route', 'function'] as const, buckets: BUCKETS, registers: [registry] });
  for (const [route, status, cause] of REQUESTS) requests.labels(route, status, cause).inc();
  for (const [route, fn, seconds] of OBSERVED) durations.labels(route, fn).observe(seconds);
  return registry;
}

function withSeries(): Registry {
  const registry = new Registry();
  const requests = registerCounter(registry, 'x_requests_total', 'Requests "counted" \\ here.');
  const durations = registerHistogram(registry, 'x_duration_seconds', 'Durations.', BUCKETS);
  const counters = new Map<string, ReturnType<typeof requests.series>>();
  for (const [route, status, cause] of REQUESTS) {
    const key = JSON.stringify([route, status, cause]);
    let series = counters.get(key);
    if (series === undefined) counters.set(key, (series = requests.series({ route, status, cause })));
    series.inc();
  }
  const histograms = new Map<string, ReturnType<typeof durations.series>>();
  for (const [route, fn, seconds] of OBSERVED) {
    const key = JSON.stringify([route, fn]);
    let series = histograms.get(key);
    if (series === undefined) histograms.set(key, (series = durations.series({ route, function: fn })));
    series.observe(seconds);
  }
  return registry;
}

type Snapshot = Array<MetricObjectWithValues<MetricValue<string>>>;

// prom-client's histogram samples carry `exemplar: null`; key order is not part of the data.
function normalized(snapshot: Snapshot): unknown {
  return snapshot.map((metric) => ({
    name: metric.name,
    help: metric.help,
    type: metric.type,
    aggregator: metric.aggregator,
    values: metric.values.map((v) => ({ labels: v.labels, value: v.value, metricName: (v as { metricName?: string }).metricName })),
  }));
}

t.test('the /metrics text is what prom-client writes, byte for byte', async (t) => {
  const expected = await withPromClient().metrics();
  const actual = await withSeries().metrics();
  t.equal(actual, expected);
  t.match(actual, /x_duration_seconds_bucket\{le="900",route="ok",function="ok-fn"\} 7\n/, '900 s counts in le="900"');
  t.match(actual, /x_duration_seconds_bucket\{le="\+Inf",route="ok",function="ok-fn"\} 8\n/, '1000 s only in +Inf');
  t.match(actual, /x_requests_total\{route="we\\"ird\\\\route\\nx",status="502",cause="lambda_error"\} 1\n/, 'label values escaped');
});

t.test('the JSON snapshot (cluster workers → primary) holds the same samples', async (t) => {
  t.same(normalized(await withSeries().getMetricsAsJSON()), normalized(await withPromClient().getMetricsAsJSON()));
});

t.test('summed over two workers as the primary does, the totals match prom-client', async (t) => {
  const ours = await AggregatorRegistry.aggregate([await withSeries().getMetricsAsJSON(), await withSeries().getMetricsAsJSON()]).metrics();
  const theirs = await AggregatorRegistry.aggregate([await withPromClient().getMetricsAsJSON(), await withPromClient().getMetricsAsJSON()]).metrics();
  t.equal(ours, theirs);
  t.match(ours, /x_requests_total\{route="ok",status="200",cause="none"\} 4\n/);
  t.match(ours, /x_duration_seconds_count\{route="ok",function="ok-fn"\} 16\n/);
});

t.test('a series is counted from the call of series() on, and no series is shown before it', async (t) => {
  const registry = new Registry();
  const counter = registerCounter(registry, 'y_total', 'Y.');
  t.equal(await registry.metrics(), '# HELP y_total Y.\n# TYPE y_total counter\n');
  const series = counter.series({ route: 'a' });
  t.match(await registry.metrics(), /y_total\{route="a"\} 0\n/);
  series.inc();
  series.inc();
  t.match(await registry.metrics(), /y_total\{route="a"\} 2\n/);
});
