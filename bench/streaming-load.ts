// The streaming bench's clients, run in the load generator process:
// - Envoy's side of ext_proc in FULL_DUPLEX_STREAMED on raw node:http2 (as
//   bench/ext-proc-load.ts, the messages test/envoy-stream-client.ts sends):
//   a bodiless request_headers with end_of_stream, then it reads the
//   streamed_immediate_response; after end_of_stream it resets the stream,
//   as Envoy does once processing is over;
// - the direct client: the same signed InvokeWithResponseStream the sidecar
//   makes (undici request API, the sidecar's signer and event-stream decoder)
//   straight to the fake: the floor the sidecar is measured against.
// Both measure the time to the first chunk (many concurrent requests) or the
// bytes/s of one large stream; the Envoy side can read slowly (a pause after
// each read that carried a body message) through a small HTTP/2 window.
import { connect, constants, type ClientHttp2Session } from 'node:http2';
import { performance } from 'node:perf_hooks';
import { Pool } from 'undici';
import { decodePayloadChunks } from '../src/lambda/event-stream';
import { createInvokeSigner } from '../src/lambda/sigv4';
import { createFrameReader, frameMessage, PROCESS_PATH, type ExtProcCodec } from './ext-proc-codec';
import { FUNCTION_NAME, KEY_ID, REGION, ROUTE_PATH, SECRET } from './fixtures';

const FULL_DUPLEX_STREAMED = 4;
const MAX_ERROR_SAMPLES = 5;
/** Envoy's HTTP/2 default windows (256 MiB), as bench/ext-proc-load.ts. */
export const ENVOY_WINDOW_BYTES = 256 * 1024 * 1024;

export type Target = 'sidecar' | 'direct';

export interface FirstChunkJob {
  readonly kind: 'first-chunk';
  readonly target: Target;
  readonly port: number;
  readonly concurrency: number;
  readonly requests: number;
  readonly streamBytes: number;
  readonly timeoutMs: number;
}

export interface FirstChunkResult {
  readonly samples: number[];
  readonly errors: number;
  readonly errorSamples: string[];
  readonly elapsedMs: number;
}

export interface BulkJob {
  readonly kind: 'bulk';
  readonly target: Target;
  readonly port: number;
  readonly streamBytes: number;
  readonly chunkBytes: number;
  /** HTTP/2 stream and connection window of the Envoy side (sidecar only). */
  readonly windowBytes: number;
  /** Pause after each read carrying a body message (sidecar only); 0 = read at once. */
  readonly pauseMs: number;
  readonly timeoutMs: number;
}

export interface BulkResult {
  readonly bytes: number;
  readonly messages: number;
  readonly ms: number;
  readonly firstChunkMs: number;
}

export type StreamingJob = FirstChunkJob | BulkJob;

interface StreamedAnswer {
  streamed_immediate_response?: {
    headers_response?: { end_of_stream?: boolean };
    body_response?: { body?: Buffer; end_of_stream?: boolean };
  };
  immediate_response?: { status?: { code?: number }; body?: Buffer };
  override_message_timeout?: unknown;
}

const streamQuery = (streamBytes: number, chunkBytes: number): string => `stream_bytes=${streamBytes}&chunk_bytes=${chunkBytes}`;

function headersFrame(codec: ExtProcCodec, streamBytes: number, chunkBytes: number): Buffer {
  const lines: Array<[string, string]> = [
    [':authority', 'api.example.com'],
    [':path', `${ROUTE_PATH}?${streamQuery(streamBytes, chunkBytes)}`],
    [':method', 'GET'],
    [':scheme', 'https'],
    ['user-agent', 'lambda-extproc-bench/1'],
    ['accept', '*/*'],
    ['x-forwarded-proto', 'https'],
    ['x-request-id', '7f0c6a52-3d0e-4b8f-9a61-2b1d7c9e0a11'],
  ];
  return frameMessage(
    codec.encodeRequest({
      request_headers: { headers: { headers: lines.map(([key, value]) => ({ key, raw_value: Buffer.from(value, 'latin1') })) }, end_of_stream: true },
      protocol_config: { request_body_mode: FULL_DUPLEX_STREAMED, response_body_mode: 0 },
    }),
  );
}

function openSession(port: number, windowBytes: number): ClientHttp2Session {
  const session = connect(`http://127.0.0.1:${port}`, { settings: { initialWindowSize: Math.min(windowBytes, 2 ** 31 - 1) }, maxSessionMemory: 1024 });
  session.on('connect', () => session.setLocalWindowSize(windowBytes));
  session.on('error', () => undefined);
  return session;
}

interface ExchangeResult {
  readonly firstChunkMs: number;
  readonly bytes: number;
  readonly messages: number;
  readonly ms: number;
}

/** One streamed exchange through the sidecar; rejects with the reason unless the stream ends with end_of_stream. */
function sidecarExchange(session: ClientHttp2Session, codec: ExtProcCodec, frame: Buffer, pauseMs: number, timeoutMs: number): Promise<ExchangeResult> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const stream = session.request(
      { ':method': 'POST', ':path': PROCESS_PATH, ':scheme': 'http', ':authority': '127.0.0.1', 'content-type': 'application/grpc', te: 'trailers' },
      { endStream: false },
    );
    let firstChunkMs = -1;
    let headers = false;
    let bytes = 0;
    let messages = 0;
    let settled = false;
    const settle = (error: string | undefined): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      // Envoy resets the ext_proc stream once processing is over.
      if (!stream.closed) stream.close(constants.NGHTTP2_CANCEL);
      if (error !== undefined) reject(new Error(error));
      else resolve({ firstChunkMs, bytes, messages, ms: performance.now() - started });
    };
    const timer = setTimeout(() => settle(`no end_of_stream within ${timeoutMs} ms (${bytes} bytes)`), timeoutMs);
    stream.on(
      'data',
      createFrameReader((message) => {
        if (settled) return;
        const answer = codec.decodeResponse(message) as unknown as StreamedAnswer;
        const streamed = answer.streamed_immediate_response;
        if (streamed === undefined) {
          if (answer.override_message_timeout !== undefined) return;
          const immediate = answer.immediate_response;
          return settle(immediate === undefined ? `unexpected message ${Object.keys(answer).join(',')}` : `answer ${immediate.status?.code}: ${(immediate.body ?? Buffer.alloc(0)).subarray(0, 200).toString('utf8')}`);
        }
        if (streamed.headers_response !== undefined) {
          headers = true;
          if (streamed.headers_response.end_of_stream === true) settle('headers with end_of_stream: no body');
          return;
        }
        const body = streamed.body_response;
        if (body === undefined || !headers) return settle('body before headers');
        const length = body.body?.length ?? 0;
        if (length > 0) {
          if (firstChunkMs < 0) firstChunkMs = performance.now() - started;
          bytes += length;
          messages += 1;
        }
        if (body.end_of_stream === true) return settle(undefined);
        if (pauseMs > 0 && !stream.isPaused()) {
          stream.pause();
          setTimeout(() => stream.resume(), pauseMs);
        }
      }),
    );
    // Trailers arrive while a paused reader still holds messages: the status is judged once all are read ('end').
    let trailer = 'none';
    stream.on('trailers', (trailers) => (trailer = `${String(trailers['grpc-status'])} ${String(trailers['grpc-message'] ?? '')}`));
    stream.on('end', () => settle(`stream ended before end_of_stream: grpc-status ${trailer}`));
    stream.on('error', (error: Error) => settle(`stream error: ${error.message}`));
    stream.on('close', () => settle(`stream closed before end_of_stream (rst ${stream.rstCode}, grpc-status ${trailer})`));
    stream.write(frame);
  });
}

interface DirectClient {
  exchange(streamBytes: number, chunkBytes: number): Promise<ExchangeResult>;
  close(): Promise<void>;
}

function createDirectClient(port: number, connections: number, timeoutMs: number): DirectClient {
  const host = `127.0.0.1:${port}`;
  const path = `/2021-11-15/functions/${FUNCTION_NAME}/response-streaming-invocations`;
  const pool = new Pool(`http://${host}`, { connections, pipelining: 1, keepAliveTimeout: 60_000 });
  const identity = { accessKeyId: KEY_ID, secretAccessKey: SECRET };
  const sign = createInvokeSigner({ credentials: async () => identity, region: REGION, host, path, qualifier: undefined, invocationType: 'RequestResponse', logType: 'None' });
  return {
    async exchange(streamBytes, chunkBytes) {
      const started = performance.now();
      // About the size of the payload the sidecar sends for the same request.
      const payload = Buffer.from(JSON.stringify({ request_method: 'GET', request_uri: `${ROUTE_PATH}?${streamQuery(streamBytes, chunkBytes)}`, request_headers: { 'user-agent': 'lambda-extproc-bench/1', accept: '*/*' }, request_body: '' }));
      const response = await pool.request({ method: 'POST', path, headers: await sign(payload), body: payload, headersTimeout: timeoutMs, bodyTimeout: timeoutMs });
      if (response.statusCode !== 200) throw new Error(`fake answered ${response.statusCode}: ${(await response.body.text()).slice(0, 200)}`);
      let firstChunkMs = -1;
      let bytes = 0;
      let messages = 0;
      for await (const chunk of decodePayloadChunks(response.body, FUNCTION_NAME)) {
        if (firstChunkMs < 0) firstChunkMs = performance.now() - started;
        bytes += chunk.length;
        messages += 1;
      }
      return { firstChunkMs, bytes, messages, ms: performance.now() - started };
    },
    close: () => pool.destroy(),
  };
}

/** `requests` streams of `streamBytes` (one chunk), `concurrency` at a time; the time to each one's first chunk. */
export async function runFirstChunk(job: FirstChunkJob, codec: ExtProcCodec): Promise<FirstChunkResult> {
  const samples: number[] = [];
  const errorSamples: string[] = [];
  let errors = 0;
  let started = 0;
  const session = job.target === 'sidecar' ? openSession(job.port, ENVOY_WINDOW_BYTES) : undefined;
  const direct = job.target === 'direct' ? createDirectClient(job.port, job.concurrency, job.timeoutMs) : undefined;
  const frame = headersFrame(codec, job.streamBytes, job.streamBytes);
  const one = (): Promise<ExchangeResult> => (session !== undefined ? sidecarExchange(session, codec, frame, 0, job.timeoutMs) : (direct as DirectClient).exchange(job.streamBytes, job.streamBytes));
  const begin = performance.now();
  const worker = async (): Promise<void> => {
    while (started < job.requests) {
      started += 1;
      try {
        const result = await one();
        if (result.bytes !== job.streamBytes) throw new Error(`got ${result.bytes} bytes, not ${job.streamBytes}`);
        samples.push(result.firstChunkMs);
      } catch (error) {
        errors += 1;
        const reason = (error as Error).message;
        if (errorSamples.length < MAX_ERROR_SAMPLES && !errorSamples.includes(reason)) errorSamples.push(reason);
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: job.concurrency }, worker));
  } finally {
    session?.destroy();
    await direct?.close();
  }
  return { samples, errors, errorSamples, elapsedMs: performance.now() - begin };
}

/** One stream of `streamBytes` in `chunkBytes` chunks, read to its end. */
export async function runBulk(job: BulkJob, codec: ExtProcCodec): Promise<BulkResult> {
  let result: ExchangeResult;
  if (job.target === 'sidecar') {
    const session = openSession(job.port, job.windowBytes);
    try {
      result = await sidecarExchange(session, codec, headersFrame(codec, job.streamBytes, job.chunkBytes), job.pauseMs, job.timeoutMs);
    } finally {
      session.destroy();
    }
  } else {
    const direct = createDirectClient(job.port, 1, job.timeoutMs);
    try {
      result = await direct.exchange(job.streamBytes, job.chunkBytes);
    } finally {
      await direct.close();
    }
  }
  if (result.bytes !== job.streamBytes) throw new Error(`${job.target} stream: got ${result.bytes} bytes, not ${job.streamBytes}`);
  return { bytes: result.bytes, messages: result.messages, ms: result.ms, firstChunkMs: result.firstChunkMs };
}
