// Prometheus metrics of one running sidecar. Each app gets its own registry,
// built once, so the metric objects are never created per request.
import { collectDefaultMetrics, Counter, Gauge, Registry, type MetricObjectWithValues, type MetricValue } from 'prom-client';
import { registerCounter, registerHistogram, type CounterSeries, type HistogramSeries } from './labelled-series';

/** The parts of a finished request the metrics need (a RequestRecord fits). */
export interface RequestSample {
  readonly route: string;
  readonly status: number;
  readonly error?: { readonly kind: string };
}

export type ReloadResult = 'success' | 'failure';

/**
 * The route label of requests that named a route the config lacks. Label
 * values come from the config only: a name taken from the request (gRPC
 * metadata x-lambda-extproc-route) would add a series per name, for ever.
 */
export const UNKNOWN_ROUTE_LABEL = '(unknown)';

export interface Metrics {
  readonly contentType: string;
  requestDone(sample: RequestSample): void;
  /** Envoy gave up before the answer: counted with status 499, cause `cancelled`. */
  requestCancelled(route: string): void;
  invokeObserved(route: string, functionName: string, seconds: number): void;
  streamOpened(): void;
  streamClosed(): void;
  protocolError(): void;
  credentialRefresh(source: string, outcome: string): void;
  configReload(result: ReloadResult): void;
  /** The exposition text for GET /metrics. */
  render(): Promise<string>;
  /** Every metric as data, for the cluster primary to add up the workers' (cluster/metrics-ipc.ts). */
  snapshot(): Promise<MetricSnapshot>;
}

export type MetricSnapshot = Array<MetricObjectWithValues<MetricValue<string>>>;

// Lambda calls run from a few ms to the 15-minute maximum.
const INVOKE_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900];

export function createMetrics(): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  // Counted once or twice per request: series are plain objects found by route, status and cause.
  const requests = registerCounter(registry, 'lambda_extproc_requests_total', 'Requests answered for Lambda routes, by route, HTTP status and error cause (none when it succeeded).');
  const invokeDuration = registerHistogram(registry, 'lambda_extproc_invoke_duration_seconds', 'Time spent in Lambda Invoke calls, by route and function, whatever their outcome.', INVOKE_BUCKETS);
  const streams = new Gauge({
    name: 'lambda_extproc_streams_in_flight',
    help: 'ext_proc Process streams open right now.',
    registers: [registry],
  });
  const protocolErrors = new Counter({
    name: 'lambda_extproc_protocol_errors_total',
    help: 'ext_proc streams ended with a gRPC error because Envoy broke the message order.',
    registers: [registry],
  });
  const credentialRefreshes = new Counter({
    name: 'lambda_extproc_credential_refreshes_total',
    help: 'AWS credential fetches, by credential source and outcome.',
    labelNames: ['source', 'outcome'] as const,
    registers: [registry],
  });
  const reloads = new Counter({
    name: 'lambda_extproc_config_reloads_total',
    help: 'Config reloads (SIGHUP or file watch), by result; a failure keeps the previous config.',
    labelNames: ['result'] as const,
    registers: [registry],
  });
  // Zero series make rate() and absent-alerts work before the first reload.
  reloads.inc({ result: 'success' }, 0);
  reloads.inc({ result: 'failure' }, 0);
  // Nested maps, not a joined key: a lookup makes no string. Series never go away (label values come from the config).
  const requestSeries = new Map<string, Map<number, Map<string, CounterSeries>>>();
  const requestsOf = (route: string, status: number, cause: string): CounterSeries => {
    let byStatus = requestSeries.get(route);
    if (byStatus === undefined) requestSeries.set(route, (byStatus = new Map()));
    let byCause = byStatus.get(status);
    if (byCause === undefined) byStatus.set(status, (byCause = new Map()));
    let series = byCause.get(cause);
    if (series === undefined) byCause.set(cause, (series = requests.series({ route, status: String(status), cause })));
    return series;
  };
  const invokeSeries = new Map<string, Map<string, HistogramSeries>>();
  const invokesOf = (route: string, functionName: string): HistogramSeries => {
    let byFunction = invokeSeries.get(route);
    if (byFunction === undefined) invokeSeries.set(route, (byFunction = new Map()));
    let series = byFunction.get(functionName);
    if (series === undefined) byFunction.set(functionName, (series = invokeDuration.series({ route, function: functionName })));
    return series;
  };
  return {
    contentType: registry.contentType,
    requestDone(sample) {
      const cause = sample.error?.kind ?? 'none';
      requestsOf(cause === 'unknown_route' ? UNKNOWN_ROUTE_LABEL : sample.route, sample.status, cause).inc();
    },
    requestCancelled(route) {
      requestsOf(route, 499, 'cancelled').inc();
    },
    invokeObserved(route, functionName, seconds) {
      invokesOf(route, functionName).observe(seconds);
    },
    streamOpened: () => streams.inc(),
    streamClosed: () => streams.dec(),
    protocolError: () => protocolErrors.inc(),
    credentialRefresh(source, outcome) {
      credentialRefreshes.inc({ source, outcome });
    },
    configReload(result) {
      reloads.inc({ result });
    },
    render: () => registry.metrics(),
    snapshot: () => registry.getMetricsAsJSON(),
  };
}
