// Drives the ext_proc Process method over raw node:http2 sessions, speaking
// gRPC framing by hand, so a test sees what Envoy's connection sees: every
// GOAWAY (with its code), every stream failure, and RST_STREAM sent exactly
// when Envoy sends it. Like Envoy's HTTP/2 pool, a connection that got a
// GOAWAY takes no new streams and the next request opens a new connection.
import { connect, constants, type ClientHttp2Session, type ClientHttp2Stream } from 'node:http2';
import { loadSync } from '@grpc/proto-loader';
import { PROTO_OPTIONS } from '../../src/extproc/proto';
import type { ProcessingRequest, ProcessingResponse } from '../../src/extproc/messages';

const METHOD = '/envoy.service.ext_proc.v3.ExternalProcessor/Process';

interface MethodCodec {
  requestSerialize(value: ProcessingRequest): Buffer;
  responseDeserialize(bytes: Buffer): ProcessingResponse;
}

export interface H2LoadOptions {
  /** host:port of the sidecar. */
  readonly address: string;
  readonly total: number;
  readonly concurrency: number;
  /** `reset`: RST_STREAM right after the immediate response (Envoy's default). `graceful`: half-close, wait for the status. */
  readonly closeMode: 'reset' | 'graceful';
  /** The request Envoy forwards; a bodiless GET answered on its headers message. */
  readonly path: string;
  /** Envoy resets a stream whose trailers do not come within this many ms (graceful mode). */
  readonly remoteCloseTimeoutMs?: number;
}

export interface GoawaySeen {
  readonly code: number;
  readonly lastStreamId: number;
  readonly atRequest: number;
}

export interface H2LoadResult {
  readonly ok: number;
  readonly failed: number;
  readonly goaways: GoawaySeen[];
  readonly connections: number;
  readonly durationMs: number;
  readonly requestsPerSecond: number;
  /** The first few failure reasons, for the test message. */
  readonly failures: string[];
  readonly statuses: Record<number, number>;
}

let codec: MethodCodec | undefined;

function loadCodec(): MethodCodec {
  if (codec !== undefined) return codec;
  const definition = loadSync('envoy/service/ext_proc/v3/external_processor.proto', PROTO_OPTIONS);
  const service = definition['envoy.service.ext_proc.v3.ExternalProcessor'] as unknown as Record<string, MethodCodec>;
  codec = service.Process as MethodCodec;
  return codec;
}

/** gRPC length-prefixed message: flag byte 0 (uncompressed), 4-byte big-endian length. */
export function frameMessage(message: ProcessingRequest): Buffer {
  const body = loadCodec().requestSerialize(message);
  const prefix = Buffer.alloc(5);
  prefix.writeUInt32BE(body.length, 1);
  return Buffer.concat([prefix, body]);
}

/** Splits buffered bytes into complete gRPC messages; returns the unconsumed rest. */
export function readMessages(buffer: Buffer, out: ProcessingResponse[]): Buffer {
  let rest = buffer;
  while (rest.length >= 5) {
    const length = rest.readUInt32BE(1);
    if (rest.length < 5 + length) break;
    out.push(loadCodec().responseDeserialize(rest.subarray(5, 5 + length)));
    rest = rest.subarray(5 + length);
  }
  return rest;
}

export async function runH2Load(options: H2LoadOptions): Promise<H2LoadResult> {
  const goaways: GoawaySeen[] = [];
  const failures: string[] = [];
  const statuses: Record<number, number> = {};
  let session: ClientHttp2Session | undefined;
  const open = new Set<ClientHttp2Session>();
  let connections = 0;
  let started = 0;
  let ok = 0;
  let failed = 0;
  const request = frameMessage({
    request_headers: {
      headers: {
        headers: [
          { key: ':authority', raw_value: Buffer.from('localhost:8000') },
          { key: ':path', raw_value: Buffer.from(options.path) },
          { key: ':method', raw_value: Buffer.from('GET') },
          { key: ':scheme', raw_value: Buffer.from('http') },
        ],
      },
      end_of_stream: true,
    },
    protocol_config: { request_body_mode: 2, response_body_mode: 0 },
  });

  const currentSession = (): ClientHttp2Session => {
    if (session !== undefined && !session.closed && !session.destroyed) return session;
    const next = connect(`http://${options.address}`);
    connections += 1;
    open.add(next);
    next.on('goaway', (code: number, lastStreamId: number) => {
      goaways.push({ code, lastStreamId, atRequest: started });
      // Envoy's pool drains a connection that got a GOAWAY: no new streams on it.
      if (session === next) session = undefined;
    });
    next.on('error', () => undefined);
    next.on('close', () => {
      open.delete(next);
      if (session === next) session = undefined;
    });
    session = next;
    return next;
  };

  const fail = (reason: string): void => {
    failed += 1;
    if (failures.length < 5) failures.push(reason);
  };

  const one = (): Promise<void> =>
    new Promise((resolve) => {
      let stream: ClientHttp2Stream;
      try {
        stream = currentSession().request({ ':method': 'POST', ':path': METHOD, 'content-type': 'application/grpc', te: 'trailers' });
      } catch (error) {
        fail(`could not open a stream: ${(error as Error).message}`);
        resolve();
        return;
      }
      let pending: Buffer = Buffer.alloc(0);
      let answered = false;
      let settled = false;
      let timer: NodeJS.Timeout | undefined;
      const settle = (reason?: string): void => {
        if (settled) return;
        settled = true;
        if (timer !== undefined) clearTimeout(timer);
        if (reason === undefined) ok += 1;
        else fail(reason);
        resolve();
      };
      stream.on('data', (chunk: Buffer) => {
        const messages: ProcessingResponse[] = [];
        pending = readMessages(Buffer.concat([pending, chunk]), messages);
        for (const message of messages) {
          if (answered || message.immediate_response === undefined) continue;
          answered = true;
          const code = Number(message.immediate_response.status?.code ?? 0);
          statuses[code] = (statuses[code] ?? 0) + 1;
          if (options.closeMode === 'reset') {
            // Envoy's default: the side stream is reset as soon as the immediate response is in.
            stream.close(constants.NGHTTP2_CANCEL);
            settle();
          } else {
            stream.end();
            timer = setTimeout(() => {
              stream.close(constants.NGHTTP2_CANCEL);
              settle('no gRPC status within the remote close timeout');
            }, options.remoteCloseTimeoutMs ?? 1000);
          }
        }
      });
      stream.on('trailers', (trailers) => {
        if (options.closeMode !== 'graceful' || !answered) return;
        const status = String(trailers['grpc-status'] ?? '');
        settle(status === '0' ? undefined : `stream ended with grpc-status ${status}`);
      });
      stream.on('error', (error: Error) => settle(`stream error: ${error.message}`));
      stream.on('close', () => {
        if (!answered) settle(`stream closed before the immediate response (rstCode ${stream.rstCode ?? 'none'})`);
        else if (options.closeMode === 'graceful') settle('stream closed without a gRPC status');
      });
      stream.write(request);
    });

  const startedAt = Date.now();
  const worker = async (): Promise<void> => {
    while (started < options.total) {
      started += 1;
      await one();
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, worker));
  const durationMs = Date.now() - startedAt;
  await Promise.all([...open].map((s) => new Promise<void>((resolve) => (s.closed ? resolve() : s.close(() => resolve())))));
  return { ok, failed, goaways, connections, durationMs, requestsPerSecond: Math.round((options.total / durationMs) * 1000), failures, statuses };
}
