// The jobs the orchestrator gives the worker process, and what comes back.
import type { LatencySummary } from './latency';

export type CloseMode = 'reset' | 'graceful';

export interface Window {
  readonly warmupMs: number;
  readonly durationMs: number;
}

/** Envoy's side of ext_proc against an ext_proc server (the sidecar or floor a). */
export interface ExtProcJob extends Window {
  readonly kind: 'extproc';
  readonly port: number;
  readonly concurrency: number;
  readonly connections: number;
  readonly bodyBytes: number;
  readonly closeMode: CloseMode;
  /** Process whose CPU counters are read at the window edges. */
  readonly serverPid: number;
  /** Requests per second over all streams; 0 = as fast as answers come. */
  readonly rate: number;
}

/** Floor (b): signed Lambda Invoke calls straight to the fake. */
export interface InvokeJob extends Window {
  readonly kind: 'invoke';
  readonly port: number;
  readonly concurrency: number;
  readonly payloadBytes: number;
}

export type Job = ExtProcJob | InvokeJob;

export interface JobResult {
  readonly requests: number;
  readonly errors: number;
  readonly elapsedMs: number;
  readonly rps: number;
  readonly latency: LatencySummary;
  /** CPU µs per completed request of the measured process (server, or the invoke loop itself). */
  readonly cpuMicrosPerRequest: number;
  /** ext_proc only: GOAWAY frames received, graceful closes that timed out, non-OK final statuses. */
  readonly goaways: number;
  readonly closeTimeouts: number;
  readonly badStatuses: number;
  /** ext_proc only: the server's read- and write-like system calls per completed request (/proc/<pid>/io). */
  readonly readsPerRequest?: number;
  readonly writesPerRequest?: number;
  readonly errorSamples: readonly string[];
}

export interface WorkerRequest {
  readonly id: number;
  readonly job: Job;
}

export type WorkerReply = { readonly id: number; readonly result: JobResult } | { readonly id: number; readonly error: string };
