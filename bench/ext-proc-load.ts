// Envoy's side of ext_proc as a load generator, on raw node:http2: a few
// connections with many concurrent Process streams multiplexed on them, the
// messages Envoy sends, and Envoy's two ways of ending a stream once the
// ImmediateResponse is in: `reset` (RST_STREAM at once, Envoy's default) or
// `graceful` (half-close, wait for the server's status). A GOAWAY retires the
// connection and new streams go to a fresh one, as Envoy does.
import { connect, constants, type ClientHttp2Session, type ClientHttp2Stream } from 'node:http2';
import { performance } from 'node:perf_hooks';
import { createFrameReader, PROCESS_PATH, type ExtProcCodec } from './ext-proc-codec';
import { buildEnvoyFrames, type EnvoyFrames } from './envoy-messages';
import { FUNCTION_OUTPUT } from './fixtures';
import { createLatencyRecorder } from './latency';
import { cpuMicrosOf, ioCallsOf } from './proc-stats';
import type { ExtProcJob, JobResult } from './protocol';

// Envoy's HTTP/2 defaults for upstream connections (256 MiB windows).
const WINDOW_BYTES = 256 * 1024 * 1024;
const SESSION_MEMORY_MB = 1024;
const REQUEST_TIMEOUT_MS = 10_000;
// Envoy's wait for the server's trailers after a graceful half-close.
const GRACEFUL_CLOSE_TIMEOUT_MS = 1_000;
const DRAIN_LIMIT_MS = 15_000;
const MAX_ERROR_SAMPLES = 5;

interface Connection {
  readonly session: ClientHttp2Session;
  alive: boolean;
}

type Phase = 'warmup' | 'measure' | 'done';

export async function runExtProcLoad(job: ExtProcJob, codec: ExtProcCodec): Promise<JobResult> {
  const frames: EnvoyFrames = buildEnvoyFrames(codec, job.bodyBytes);
  const requestHeaders = {
    ':method': 'POST',
    ':path': PROCESS_PATH,
    ':scheme': 'http',
    ':authority': `127.0.0.1:${job.port}`,
    'content-type': 'application/grpc',
    te: 'trailers',
  };
  const latency = createLatencyRecorder();
  const errorSamples: string[] = [];
  let phase: Phase = 'warmup';
  let requests = 0;
  let errors = 0;
  let goaways = 0;
  let closeTimeouts = 0;
  let badStatuses = 0;
  let inFlight = 0;
  let closing = 0;

  const noteError = (reason: string): void => {
    if (phase !== 'measure') return;
    errors += 1;
    if (errorSamples.length < MAX_ERROR_SAMPLES && !errorSamples.includes(reason)) errorSamples.push(reason);
  };

  const open = (): Connection => {
    // Envoy's HTTP/2 client has no session memory cap; Node's default (10 MB) would refuse streams of large bodies on our side.
    const session = connect(`http://127.0.0.1:${job.port}`, { settings: { initialWindowSize: WINDOW_BYTES - 1 }, maxSessionMemory: SESSION_MEMORY_MB });
    const connection: Connection = { session, alive: true };
    session.on('connect', () => session.setLocalWindowSize(WINDOW_BYTES));
    session.on('goaway', (code) => {
      if (phase === 'measure') goaways += 1;
      connection.alive = false;
      noteError(`GOAWAY code ${code}`);
    });
    session.on('close', () => (connection.alive = false));
    session.on('error', (error: Error) => {
      connection.alive = false;
      noteError(`connection error: ${error.message}`);
    });
    return connection;
  };
  const connections: Connection[] = Array.from({ length: Math.max(1, job.connections) }, open);
  let turn = 0;
  const pick = (): Connection => {
    const index = turn++ % connections.length;
    let connection = connections[index] as Connection;
    if (!connection.alive || connection.session.closed || connection.session.destroyed) {
      if (!connection.session.destroyed) connection.session.close();
      connection = open();
      connections[index] = connection;
    }
    return connection;
  };

  const runOne = (connection: Connection): Promise<void> =>
    new Promise<void>((resolve) => {
      const startedAt = performance.now();
      let answered = false;
      let settled = false;
      let grpcStatus: string | undefined;
      let stream: ClientHttp2Stream;
      inFlight += 1;
      const settle = (): void => {
        if (settled) return;
        settled = true;
        inFlight -= 1;
        clearTimeout(timer);
        resolve();
      };
      const fail = (reason: string): void => {
        if (settled) return;
        noteError(reason);
        if (!stream.closed) stream.close(constants.NGHTTP2_CANCEL);
        settle();
      };
      const timer = setTimeout(() => fail(`no answer within ${REQUEST_TIMEOUT_MS} ms`), REQUEST_TIMEOUT_MS);
      try {
        stream = connection.session.request(requestHeaders, { endStream: false });
      } catch (error) {
        connection.alive = false;
        noteError(`cannot open stream: ${(error as Error).message}`);
        inFlight -= 1;
        clearTimeout(timer);
        resolve();
        return;
      }
      const onAnswered = (): void => {
        answered = true;
        if (phase === 'measure') {
          requests += 1;
          latency.record(performance.now() - startedAt);
        }
        settle();
        if (job.closeMode === 'reset') {
          stream.close(constants.NGHTTP2_CANCEL);
          return;
        }
        closing += 1;
        const closeTimer = setTimeout(() => {
          if (phase === 'measure') closeTimeouts += 1;
          stream.close(constants.NGHTTP2_CANCEL);
        }, GRACEFUL_CLOSE_TIMEOUT_MS);
        stream.once('close', () => {
          closing -= 1;
          clearTimeout(closeTimer);
          if (grpcStatus !== '0' && phase === 'measure') badStatuses += 1;
        });
        stream.end();
      };
      stream.on(
        'data',
        createFrameReader((bytes) => {
          if (answered || settled) return;
          const message = codec.decodeResponse(bytes);
          const immediate = message.immediate_response;
          if (immediate !== undefined) {
            const body = immediate.body === undefined ? Buffer.alloc(0) : Buffer.from(immediate.body);
            if (immediate.status?.code !== 200 || !body.equals(FUNCTION_OUTPUT)) return fail(`answer ${immediate.status?.code}: ${body.subarray(0, 200).toString('utf8')}`);
            return onAnswered();
          }
          if (message.request_headers !== undefined && frames.body !== undefined) {
            stream.write(frames.body);
            return;
          }
          if (message.override_message_timeout !== undefined) return;
          fail(`unexpected message: ${Object.keys(message).join(',')}`);
        }),
      );
      stream.on('response', (headers) => {
        const status = headers['grpc-status'];
        if (status !== undefined) grpcStatus = String(status);
      });
      stream.on('trailers', (trailers) => {
        const status = trailers['grpc-status'];
        if (status !== undefined) grpcStatus = String(status);
        if (!answered && grpcStatus !== '0') fail(`grpc-status ${grpcStatus} ${String(trailers['grpc-message'] ?? '')}`);
      });
      stream.on('error', () => undefined);
      stream.on('close', () => {
        if (!answered) fail(`stream closed before the answer (rst ${stream.rstCode}, grpc-status ${grpcStatus ?? 'none'})`);
      });
      stream.write(frames.headers);
    });

  let nextSlot = performance.now();
  const interval = job.rate > 0 ? (1000 * 1) / job.rate : 0;
  const pace = async (): Promise<void> => {
    if (interval === 0) return;
    const now = performance.now();
    nextSlot = Math.max(nextSlot + interval, now);
    const wait = nextSlot - now;
    if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
  };

  let cpuStart = 0;
  let cpuEnd = 0;
  let ioStart = { reads: 0, writes: 0 };
  let ioEnd = { reads: 0, writes: 0 };
  let windowStart = 0;
  let windowEnd = 0;
  let measured = { requests: 0, errors: 0, goaways: 0, closeTimeouts: 0, badStatuses: 0 };
  const startMeasuring = setTimeout(() => {
    cpuStart = cpuMicrosOf(job.serverPid);
    ioStart = ioCallsOf(job.serverPid);
    windowStart = performance.now();
    latency.reset();
    phase = 'measure';
  }, job.warmupMs);
  const done = new Promise<void>((resolve) =>
    setTimeout(() => {
      cpuEnd = cpuMicrosOf(job.serverPid);
      ioEnd = ioCallsOf(job.serverPid);
      windowEnd = performance.now();
      measured = { requests, errors, goaways, closeTimeouts, badStatuses };
      phase = 'done';
      resolve();
    }, job.warmupMs + job.durationMs),
  );

  // A function, so the compiler does not narrow `phase` across the awaits.
  const running = (): boolean => phase !== 'done';
  const worker = async (): Promise<void> => {
    while (running()) {
      await pace();
      if (!running()) break;
      await runOne(pick());
    }
  };
  const workers = Array.from({ length: job.concurrency }, worker);
  await done;
  clearTimeout(startMeasuring);
  // Bounded wait for the streams still open, then close every connection.
  const deadline = performance.now() + DRAIN_LIMIT_MS;
  await Promise.race([Promise.all(workers), new Promise((resolve) => setTimeout(resolve, DRAIN_LIMIT_MS))]);
  while ((inFlight > 0 || closing > 0) && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
  for (const connection of connections) if (!connection.session.destroyed) connection.session.destroy();

  const elapsedMs = windowEnd - windowStart;
  return {
    requests: measured.requests,
    errors: measured.errors,
    elapsedMs,
    rps: (measured.requests * 1000) / elapsedMs,
    latency: latency.summary(),
    cpuMicrosPerRequest: measured.requests === 0 ? 0 : (cpuEnd - cpuStart) / measured.requests,
    goaways: measured.goaways,
    closeTimeouts: measured.closeTimeouts,
    badStatuses: measured.badStatuses,
    readsPerRequest: measured.requests === 0 ? 0 : (ioEnd.reads - ioStart.reads) / measured.requests,
    writesPerRequest: measured.requests === 0 ? 0 : (ioEnd.writes - ioStart.writes) / measured.requests,
    errorSamples,
  };
}
