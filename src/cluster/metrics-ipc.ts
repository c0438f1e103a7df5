// Metrics of a multi-worker sidecar: the primary asks each worker for its
// metrics over the cluster IPC channel and adds them up with prom-client's
// aggregation (counters, histograms and the open-streams gauge are summed).
import type { Worker } from 'node:cluster';
import { AggregatorRegistry, Registry } from 'prom-client';
import type { MetricSnapshot } from '../observability/metrics';

const REQUEST = 'lambda-extproc:metrics-request';
const REPLY = 'lambda-extproc:metrics-reply';
/** A worker busy past this is left out of one scrape rather than failing it. */
const REPLY_TIMEOUT_MS = 2000;

interface MetricsRequest {
  readonly type: typeof REQUEST;
  readonly id: number;
}

interface MetricsReply {
  readonly type: typeof REPLY;
  readonly id: number;
  readonly snapshot?: MetricSnapshot;
  readonly error?: string;
}

/** Worker side: answers the primary's requests with this worker's snapshot. */
export function answerMetricsRequests(snapshot: () => Promise<MetricSnapshot>): void {
  process.on('message', (message: unknown) => {
    if (!isMessage<MetricsRequest>(message, REQUEST)) return;
    const reply = (body: Omit<MetricsReply, 'type' | 'id'>): void => {
      if (process.connected) process.send?.({ type: REPLY, id: message.id, ...body } satisfies MetricsReply);
    };
    snapshot().then(
      (data) => reply({ snapshot: data }),
      (error: unknown) => reply({ error: (error as Error).message }),
    );
  });
}

export interface ClusterMetrics {
  readonly contentType: string;
  render(): Promise<string>;
}

/** Primary side: the live workers' metrics, added up, as exposition text. */
export function createClusterMetrics(workers: () => readonly Worker[]): ClusterMetrics {
  let nextId = 1;
  const ask = (worker: Worker): Promise<MetricSnapshot> =>
    new Promise((resolve) => {
      const id = nextId++;
      const done = (snapshot: MetricSnapshot): void => {
        clearTimeout(timer);
        worker.off('message', onMessage);
        worker.off('exit', onExit);
        resolve(snapshot);
      };
      const onMessage = (message: unknown): void => {
        if (isMessage<MetricsReply>(message, REPLY) && message.id === id) done(message.snapshot ?? []);
      };
      // A worker that exits or stalls mid-scrape adds nothing to this one.
      const onExit = (): void => done([]);
      const timer = setTimeout(onExit, REPLY_TIMEOUT_MS);
      worker.on('message', onMessage);
      worker.once('exit', onExit);
      // A channel closed since the filter below reports here, not as an 'error' event.
      worker.send({ type: REQUEST, id } satisfies MetricsRequest, undefined, (error) => {
        if (error !== null) onExit();
      });
    });
  return {
    contentType: Registry.PROMETHEUS_CONTENT_TYPE,
    async render() {
      const snapshots = await Promise.all(workers().filter((worker) => worker.isConnected()).map(ask));
      return AggregatorRegistry.aggregate(snapshots.filter((snapshot) => snapshot.length > 0)).metrics();
    },
  };
}

function isMessage<T extends { readonly type: string }>(message: unknown, type: T['type']): message is T {
  return typeof message === 'object' && message !== null && (message as { type?: unknown }).type === type;
}
