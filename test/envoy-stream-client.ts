// Envoy's ext_proc filter in request_body_mode FULL_DUPLEX_STREAMED, for
// streaming routes: request_headers, then every body chunk without waiting
// (the last with end_of_stream), then it reads what the server streams back.
// Only streamed_immediate_response continues the exchange (override_message_timeout
// aside); any other answer ends processing, as Envoy treats it: before the
// streamed headers it is the answer, after them a spurious message that
// resets the client. Each body chunk's arrival time is recorded.
import { performance } from 'node:perf_hooks';
import { credentials, loadPackageDefinition, Metadata, type ClientDuplexStream, type GrpcObject, type ServiceClientConstructor } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { PROTO_OPTIONS } from '../src/extproc/proto';
import { BodySendMode, type HeaderMap, type ProcessingRequest } from '../src/extproc/messages';

interface StreamedMessage {
  headers_response?: { headers?: HeaderMap; end_of_stream?: boolean };
  body_response?: { body?: Buffer; end_of_stream?: boolean };
  trailers_response?: HeaderMap;
}

/** A ProcessingResponse as the stand-in decodes it (the streamed field included). */
export interface StreamedProcessingResponse {
  response?: string;
  streamed_immediate_response?: StreamedMessage;
  immediate_response?: { status?: { code?: number }; body?: Buffer };
  override_message_timeout?: { seconds?: number; nanos?: number };
}

export interface StreamExchange {
  readonly method?: string;
  readonly path: string;
  readonly headers?: ReadonlyArray<readonly [string, string]>;
  /** Request body chunks, sent one message each right after the headers; none: headers carry end_of_stream. */
  readonly body?: ReadonlyArray<string | Buffer>;
  /** The body mode Envoy announces in protocol_config; 'absent' is an Envoy before 1.33. */
  readonly announce?: 'FULL_DUPLEX_STREAMED' | 'BUFFERED' | 'absent';
  readonly metadata?: Readonly<Record<string, string>>;
  /** Called as each body chunk arrives (its index and bytes): the client side of a causality check. */
  readonly onChunk?: (index: number, chunk: Buffer) => void;
  /** Read slowly: stop reading from the gRPC stream for this long after each body chunk (a slow client). */
  readonly pauseAfterChunkMs?: number;
  /** Keep only each chunk's arrival time and length (body stays empty): for streams too big to hold. */
  readonly discardBodies?: boolean;
  /** The client goes away after this many body chunks: Envoy resets the ext_proc stream. */
  readonly cancelAfterChunks?: number;
  /** The client goes away when this settles, whatever was answered (e.g. while the function has not written yet). */
  readonly cancelWhen?: Promise<void>;
  /** The body ends with request_trailers instead of end_of_stream on its last chunk (request_trailer_mode SEND). */
  readonly trailers?: boolean;
}

export interface StreamedReply {
  /**
   * streamed: headers then end_of_stream; immediate: an ImmediateResponse;
   * reset: the client's response was cut after its headers (non-OK status,
   * spurious message, or the stream ended without end_of_stream);
   * error: a gRPC error before any answer (Envoy's 500);
   * cancelled: the client went away first (cancelAfterChunks).
   */
  readonly outcome: 'streamed' | 'immediate' | 'reset' | 'error' | 'cancelled';
  readonly status: number;
  readonly headers: Array<[string, string]>;
  readonly body: Buffer;
  /** Each body message: ms since the exchange started, its length, and its bytes (empty with discardBodies). */
  readonly chunks: Array<{ readonly at: number; readonly length: number; readonly bytes: Buffer }>;
  readonly headersAt?: number;
  readonly received: StreamedProcessingResponse[];
  readonly grpcCode?: number;
  readonly grpcDetails?: string;
  headerValues(name: string): string[];
}

export interface EnvoyStreamClient {
  exchange(request: StreamExchange): Promise<StreamedReply>;
  close(): void;
}

export function createEnvoyStreamClient(address: string): EnvoyStreamClient {
  const definition = loadSync('envoy/service/ext_proc/v3/external_processor.proto', PROTO_OPTIONS);
  const root = loadPackageDefinition(definition) as GrpcObject;
  const Ctor = ((((root.envoy as GrpcObject).service as GrpcObject).ext_proc as GrpcObject).v3 as GrpcObject).ExternalProcessor as ServiceClientConstructor;
  const client = new Ctor(address, credentials.createInsecure(), { 'grpc.max_receive_message_length': 64 * 1024 * 1024 });
  return { exchange: (request) => runExchange(client, request), close: () => client.close() };
}

function headerText(map: HeaderMap | undefined): Array<[string, string]> {
  return (map?.headers ?? []).map((h) => [h.key, h.raw_value !== undefined && h.raw_value.length > 0 ? h.raw_value.toString('latin1') : (h.value ?? '')]);
}

async function runExchange(client: InstanceType<ServiceClientConstructor>, request: StreamExchange): Promise<StreamedReply> {
  const metadata = new Metadata();
  for (const [key, value] of Object.entries(request.metadata ?? {})) metadata.set(key, value);
  const call = (client as unknown as { Process(m: Metadata): ClientDuplexStream<ProcessingRequest, StreamedProcessingResponse> }).Process(metadata);
  const started = performance.now();
  const announce = request.announce ?? 'FULL_DUPLEX_STREAMED';
  const body = (request.body ?? []).map((part) => (Buffer.isBuffer(part) ? part : Buffer.from(part, 'utf8')));
  const headers = [
    { key: ':method', raw_value: Buffer.from(request.method ?? (body.length > 0 ? 'POST' : 'GET')) },
    { key: ':path', raw_value: Buffer.from(request.path) },
    { key: ':authority', raw_value: Buffer.from('example.com') },
    { key: ':scheme', raw_value: Buffer.from('https') },
    ...(request.headers ?? []).map(([key, value]) => ({ key, raw_value: Buffer.from(value) })),
  ];
  const first: ProcessingRequest = { request_headers: { headers: { headers }, end_of_stream: body.length === 0 } };
  if (announce !== 'absent') first.protocol_config = { request_body_mode: BodySendMode[announce], response_body_mode: BodySendMode.NONE };
  // FULL_DUPLEX_STREAMED: Envoy sends the body as it comes, without waiting for answers.
  call.write(first);
  const trailers = request.trailers === true && body.length > 0;
  body.forEach((chunk, index) => call.write({ request_body: { body: chunk, end_of_stream: !trailers && index === body.length - 1 } }));
  if (trailers) call.write({ request_trailers: { trailers: { headers: [{ key: 'x-trailer', raw_value: Buffer.from('1') }] } } });

  const received: StreamedProcessingResponse[] = [];
  const chunks: Array<{ at: number; length: number; bytes: Buffer }> = [];
  let status = 0;
  let responseHeaders: Array<[string, string]> = [];
  let headersAt: number | undefined;
  let immediateBody: Buffer | undefined;
  return new Promise<StreamedReply>((resolve) => {
    let settled = false;
    const finish = (outcome: StreamedReply['outcome'], grpc?: { code: number; details: string }): void => {
      if (settled) return;
      settled = true;
      // Envoy resets the ext_proc stream once processing is over.
      call.cancel();
      const all = immediateBody ?? Buffer.concat(chunks.map((c) => c.bytes));
      resolve({
        outcome,
        status,
        headers: responseHeaders,
        body: all,
        chunks,
        headersAt,
        received,
        grpcCode: grpc?.code,
        grpcDetails: grpc?.details,
        headerValues: (name) => responseHeaders.filter(([key]) => key === name).map(([, value]) => value),
      });
    };
    void request.cancelWhen?.then(() => finish('cancelled'));
    call.on('data', (message: StreamedProcessingResponse) => {
      if (request.discardBodies !== true || message.streamed_immediate_response?.body_response === undefined) received.push(message);
      const streamed = message.streamed_immediate_response;
      if (message.response === undefined && message.override_message_timeout !== undefined) return;
      if (streamed === undefined) {
        // Not a streamed answer: the end of processing.
        if (headersAt !== undefined) return finish('reset');
        if (message.immediate_response !== undefined) {
          status = message.immediate_response.status?.code ?? 0;
          immediateBody = message.immediate_response.body ?? Buffer.alloc(0);
          return finish('immediate');
        }
        return finish('error');
      }
      if (streamed.headers_response !== undefined) {
        if (headersAt !== undefined) return finish('reset');
        headersAt = performance.now() - started;
        const lines = headerText(streamed.headers_response.headers);
        status = Number(lines.find(([key]) => key === ':status')?.[1] ?? 0);
        responseHeaders = lines.filter(([key]) => !key.startsWith(':'));
        if (streamed.headers_response.end_of_stream === true) return finish('streamed');
        return;
      }
      if (streamed.body_response !== undefined) {
        // Envoy answers 500 to a body before the headers.
        if (headersAt === undefined) return finish('error');
        const bytes = streamed.body_response.body ?? Buffer.alloc(0);
        chunks.push({ at: performance.now() - started, length: bytes.length, bytes: request.discardBodies === true ? Buffer.alloc(0) : bytes });
        request.onChunk?.(chunks.length - 1, bytes);
        if (streamed.body_response.end_of_stream === true) return finish('streamed');
        if (request.cancelAfterChunks !== undefined && chunks.length >= request.cancelAfterChunks) return finish('cancelled');
        if (request.pauseAfterChunkMs !== undefined) {
          call.pause();
          setTimeout(() => call.resume(), request.pauseAfterChunkMs);
        }
      }
    });
    let ended = false;
    let okStatus: { code: number; details: string } | undefined;
    // An OK status is judged once every message before it was read (a paused reader still holds some).
    const judgeOk = (): void => {
      if (okStatus === undefined || !ended) return;
      finish(headersAt !== undefined ? 'reset' : 'error', okStatus);
    };
    call.on('end', () => {
      ended = true;
      judgeOk();
    });
    call.on('status', (grpc: { code: number; details: string }) => {
      if (grpc.code === 0) {
        okStatus = grpc;
        return judgeOk();
      }
      // A non-OK status resets a started response (Envoy's 500 before it).
      finish(headersAt !== undefined ? 'reset' : 'error', grpc);
    });
    call.on('error', () => undefined);
  });
}
