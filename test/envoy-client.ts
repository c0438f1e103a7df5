// A faithful stand-in for Envoy's ext_proc filter (envoy/source/extensions/
// filters/http/ext_proc): one Process stream per HTTP request, the messages
// Envoy sends in the order it sends them, Envoy's per-message timeout, and
// Envoy's rules for turning the server's answer into the client's response.
import { credentials, loadPackageDefinition, Metadata, type ClientDuplexStream, type GrpcObject, type ServiceClientConstructor } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { PROTO_OPTIONS } from '../src/extproc/proto';
import type { ProcessingRequest, ProcessingResponse, HeaderValueOption } from '../src/extproc/messages';

export type BodyMode = 'NONE' | 'STREAMED' | 'BUFFERED' | 'BUFFERED_PARTIAL';
const BODY_MODE = { NONE: 0, STREAMED: 1, BUFFERED: 2, BUFFERED_PARTIAL: 3 } as const;

export interface EnvoyRequest {
  readonly method?: string;
  readonly path: string;
  readonly authority?: string;
  readonly scheme?: string;
  /**
   * Regular request headers; Envoy lower-cases names. A string value is sent
   * as its UTF-8 bytes (what clients send for non-ASCII text); a Buffer as
   * exactly those bytes (e.g. latin1 or invalid UTF-8). Envoy passes header
   * bytes through untouched in raw_value.
   */
  readonly headers?: ReadonlyArray<readonly [string, string | Buffer]>;
  readonly body?: string | Buffer;
  /** gRPC initial metadata (ExtProcPerRoute.overrides.grpc_initial_metadata). */
  readonly metadata?: Readonly<Record<string, string>>;
  /** Envoy route name, sent as attributes["envoy.filters.http.ext_proc"]["xds.route_name"]. */
  readonly routeName?: string;
  /** Envoy's request.protocol attribute (`HTTP/1.1`, `HTTP/2`), when request_attributes asks for it. */
  readonly protocol?: string;
  readonly bodyMode?: BodyMode;
  /** STREAMED: body chunk size. BUFFERED_PARTIAL: Envoy's buffer limit. */
  readonly chunkSize?: number;
  /** Newer Envoys send protocol_config in the first message (default true). */
  readonly sendProtocolConfig?: boolean;
  /** Envoy's message_timeout in ms (the shipped envoy.yaml uses 30 s). */
  readonly messageTimeoutMs?: number;
  /** Envoy's max_message_timeout in ms; 0 disables override_message_timeout. */
  readonly maxMessageTimeoutMs?: number;
  /** `reset` (Envoy's default) or `graceful` (ext_proc_graceful_grpc_close). */
  readonly closeMode?: 'reset' | 'graceful';
  /** response_header_mode: SEND makes Envoy ask about the upstream response too. */
  readonly responseHeaderMode?: 'SEND' | 'SKIP';
  /** Use the value field instead of raw_value, as Envoy before 1.27 did. */
  readonly legacyHeaderValues?: boolean;
  /** Cancel the stream this many ms after sending the last message. */
  readonly cancelAfterMs?: number;
  /** Cancel the stream when this settles (e.g. once the fake Lambda holds the invocation): order, not a delay. */
  readonly cancelWhen?: Promise<unknown>;
  /** Envoy's allow_mode_override: honour mode_override in the headers answer. */
  readonly allowModeOverride?: boolean;
  /** observability_mode: send every message flagged, wait for nothing, then half-close. */
  readonly observabilityMode?: boolean;
}

export interface EnvoyResult {
  /** How Envoy ended: the server's immediate response, the upstream, or a local error reply. */
  readonly outcome: 'immediate' | 'upstream' | 'error' | 'timeout' | 'cancelled';
  readonly status: number;
  /** Header values as text: the bytes read as UTF-8 (see rawHeaders for the bytes). */
  readonly headers: Array<[string, string]>;
  /** The header bytes the client gets: raw_value as the server wrote it, which Envoy passes on. */
  readonly rawHeaders: Array<[string, Buffer]>;
  readonly body: Buffer;
  readonly sent: ProcessingRequest[];
  readonly received: ProcessingResponse[];
  readonly grpcCode?: number;
  readonly grpcDetails?: string;
  header(name: string): string | undefined;
  headerValues(name: string): string[];
  /** The bytes of the first line of this header. */
  headerBytes(name: string): Buffer | undefined;
  json(): unknown;
}

type Item = { kind: 'message'; message: ProcessingResponse } | { kind: 'status'; code: number; details: string } | { kind: 'timeout' };

export interface RawExchange {
  readonly received: ProcessingResponse[];
  readonly code: number;
  readonly details: string;
}

export interface EnvoyClient {
  send(request: EnvoyRequest): Promise<EnvoyResult>;
  /** Not Envoy: writes the given messages as they are, half-closes, and reports every answer and the final status. */
  sendRaw(messages: ProcessingRequest[], metadata?: Readonly<Record<string, string>>): Promise<RawExchange>;
  close(): void;
}

const UPSTREAM_BODY = 'upstream answered';

export interface EnvoyClientOptions {
  /** A connection of its own, as each Envoy worker thread has; grpc-js otherwise shares one per address. */
  readonly ownConnection?: boolean;
}

export function createEnvoyClient(address: string, options: EnvoyClientOptions = {}): EnvoyClient {
  const definition = loadSync('envoy/service/ext_proc/v3/external_processor.proto', PROTO_OPTIONS);
  const root = loadPackageDefinition(definition) as GrpcObject;
  const Ctor = ((((root.envoy as GrpcObject).service as GrpcObject).ext_proc as GrpcObject).v3 as GrpcObject).ExternalProcessor as ServiceClientConstructor;
  const client = new Ctor(address, credentials.createInsecure(), {
    'grpc.max_send_message_length': 64 * 1024 * 1024,
    'grpc.max_receive_message_length': 64 * 1024 * 1024,
    ...(options.ownConnection === true ? { 'grpc.use_local_subchannel_pool': 1 } : {}),
  });
  return {
    send: (request) => runStream(client, request),
    sendRaw: (messages, metadata) => runRaw(client, messages, metadata ?? {}),
    close: () => client.close(),
  };
}

async function runStream(client: InstanceType<ServiceClientConstructor>, request: EnvoyRequest): Promise<EnvoyResult> {
  const metadata = new Metadata();
  for (const [key, value] of Object.entries(request.metadata ?? {})) metadata.set(key, value);
  const call = (client as unknown as { Process(m: Metadata): ClientDuplexStream<ProcessingRequest, ProcessingResponse> }).Process(metadata);
  const sent: ProcessingRequest[] = [];
  const received: ProcessingResponse[] = [];
  const items: Item[] = [];
  let waiting: ((item: Item) => void) | undefined;
  const push = (item: Item): void => {
    if (waiting !== undefined) {
      const w = waiting;
      waiting = undefined;
      w(item);
    } else items.push(item);
  };
  call.on('data', (message: ProcessingResponse) => {
    received.push(message);
    push({ kind: 'message', message });
  });
  call.on('status', (status: { code: number; details: string }) => push({ kind: 'status', code: status.code, details: status.details }));
  call.on('error', () => undefined);

  const messageTimeout = request.messageTimeoutMs ?? 30_000;
  const maxMessageTimeout = request.maxMessageTimeoutMs ?? 0;
  // Waits for the answer to one message, honouring override_message_timeout once.
  const next = async (): Promise<Item> => {
    let overridden = false;
    let limit = messageTimeout;
    for (;;) {
      const item = items.shift() ?? (await waitFor(limit));
      if (item.kind === 'message' && item.message.override_message_timeout !== undefined) {
        const d = item.message.override_message_timeout;
        const ms = Number(d.seconds ?? 0) * 1000 + Math.floor((d.nanos ?? 0) / 1e6);
        if (!overridden && maxMessageTimeout > 0 && ms >= 1 && ms <= maxMessageTimeout) {
          overridden = true;
          limit = ms;
        }
        continue;
      }
      return item;
    }
  };
  const waitFor = (ms: number) =>
    new Promise<Item>((resolve) => {
      const timer = setTimeout(() => {
        waiting = undefined;
        resolve({ kind: 'timeout' });
      }, ms);
      waiting = (item) => {
        clearTimeout(timer);
        resolve(item);
      };
    });
  const write = (message: ProcessingRequest): void => {
    sent.push(message);
    call.write(message);
  };

  const body = request.body === undefined ? Buffer.alloc(0) : Buffer.isBuffer(request.body) ? request.body : Buffer.from(request.body, 'utf8');
  const hasBody = body.length > 0;
  let bodyMode: BodyMode = request.bodyMode ?? 'BUFFERED';
  const headers: Array<readonly [string, string | Buffer]> = [
    [':authority', request.authority ?? 'localhost:8000'],
    [':path', request.path],
    [':method', request.method ?? (hasBody ? 'POST' : 'GET')],
    [':scheme', request.scheme ?? 'http'],
    ...(request.headers ?? []).map(([k, v]) => [k.toLowerCase(), v] as const),
    ...(hasBody && !(request.headers ?? []).some(([k]) => k.toLowerCase() === 'content-length') ? [['content-length', String(body.length)] as const] : []),
    ['x-forwarded-proto', request.scheme ?? 'http'],
    ['x-request-id', 'envoy-request-id-0001'],
  ];
  const first: ProcessingRequest = {
    request_headers: {
      headers: {
        headers: headers.map(([key, value]) =>
          request.legacyHeaderValues === true
            ? { key, value: Buffer.isBuffer(value) ? value.toString('utf8') : value }
            : { key, raw_value: Buffer.isBuffer(value) ? value : Buffer.from(value, 'utf8') },
        ),
      },
      end_of_stream: !hasBody,
    },
  };
  const attributeFields: Record<string, { stringValue: string }> = {};
  if (request.routeName !== undefined) attributeFields['xds.route_name'] = { stringValue: request.routeName };
  if (request.protocol !== undefined) attributeFields['request.protocol'] = { stringValue: request.protocol };
  if (Object.keys(attributeFields).length > 0) first.attributes = { 'envoy.filters.http.ext_proc': { fields: attributeFields } };
  if (request.observabilityMode === true) return runObservability(call, first, body, request.chunkSize ?? body.length, sent, received, items, waitFor);
  if (request.sendProtocolConfig !== false) first.protocol_config = { request_body_mode: BODY_MODE[bodyMode], response_body_mode: 0 };

  const finishWith = async (outcome: EnvoyResult['outcome'], status: number, responseHeaders: Array<[string, string | Buffer]>, responseBody: Buffer, grpc?: { code: number; details: string }): Promise<EnvoyResult> => {
    await closeStream(call, request.closeMode ?? 'reset', items, () => waitFor(1000));
    return makeResult(outcome, status, responseHeaders, responseBody, sent, received, grpc);
  };

  const answer = async (expected: keyof ProcessingResponse): Promise<EnvoyResult | 'continue'> => {
    if (request.cancelAfterMs !== undefined || request.cancelWhen !== undefined) {
      await (request.cancelWhen ?? new Promise((resolve) => setTimeout(resolve, request.cancelAfterMs)));
      call.cancel();
      return makeResult('cancelled', 0, [], Buffer.alloc(0), sent, received);
    }
    const item = await next();
    if (item.kind === 'timeout') {
      call.cancel();
      return makeResult('timeout', 504, [['content-type', 'text/plain']], Buffer.from('ext_proc_error_per-message_timeout_exceeded'), sent, received);
    }
    if (item.kind === 'status') {
      // Closed with OK before answering: Envoy continues the request unprocessed.
      if (item.code === 0) return makeResult('upstream', 200, [['content-type', 'text/plain']], Buffer.from(UPSTREAM_BODY), sent, received);
      return makeResult('error', 500, [['content-type', 'text/plain']], Buffer.alloc(0), sent, received, { code: item.code, details: item.details });
    }
    const message = item.message;
    if (message.immediate_response !== undefined) {
      const { status, headers: h, body: b } = toLocalReply(message.immediate_response);
      return finishWith('immediate', status, h, b);
    }
    if (message[expected] === undefined) {
      // A spurious answer: fail-closed Envoy replies status_on_error.
      call.cancel();
      return makeResult('error', 500, [], Buffer.from('spurious message'), sent, received);
    }
    return 'continue';
  };

  write(first);
  let result = await answer('request_headers');
  if (result !== 'continue') return result;
  // Envoy applies mode_override from a headers answer only with allow_mode_override.
  const override = received.at(-1)?.mode_override?.request_body_mode;
  if (request.allowModeOverride === true && override !== undefined) bodyMode = (Object.keys(BODY_MODE) as BodyMode[]).find((name) => BODY_MODE[name] === override) ?? bodyMode;
  if (hasBody && bodyMode !== 'NONE') {
    const chunkSize = request.chunkSize ?? body.length;
    if (bodyMode === 'BUFFERED') {
      write({ request_body: { body, end_of_stream: true } });
      result = await answer('request_body');
    } else if (bodyMode === 'BUFFERED_PARTIAL' && body.length > chunkSize) {
      write({ request_body: { body: body.subarray(0, chunkSize), end_of_stream: false } });
      result = await answer('request_body');
    } else if (bodyMode === 'BUFFERED_PARTIAL') {
      write({ request_body: { body, end_of_stream: true } });
      result = await answer('request_body');
    } else {
      for (let offset = 0; offset < body.length; offset += chunkSize) {
        const end = Math.min(body.length, offset + chunkSize);
        write({ request_body: { body: body.subarray(offset, end), end_of_stream: end === body.length } });
        result = await answer('request_body');
        if (result !== 'continue') return result;
      }
    }
    if (result !== 'continue') return result;
  }
  // The request went upstream unprocessed; with response_header_mode SEND Envoy asks about the response.
  if (request.responseHeaderMode === 'SEND') {
    write({ response_headers: { headers: { headers: [{ key: ':status', raw_value: Buffer.from('200') }] }, end_of_stream: false } });
    result = await answer('response_headers');
    if (result !== 'continue') return result;
  }
  return finishWith('upstream', 200, [['content-type', 'text/plain']], Buffer.from(UPSTREAM_BODY));
}

// Envoy's sendLocalReply: status below 200 becomes 200, `:` headers and
// x-envoy-* are dropped, append false replaces, content-length recomputed,
// text/plain for a body without content-type.
function toLocalReply(reply: NonNullable<ProcessingResponse['immediate_response']>): { status: number; headers: Array<[string, Buffer]>; body: Buffer } {
  const code = Number(reply.status?.code ?? 0);
  const status = code >= 200 ? code : 200;
  const headers: Array<[string, Buffer]> = [];
  for (const option of (reply.headers?.set_headers ?? []) as HeaderValueOption[]) {
    const key = option.header.key.toLowerCase();
    // Bytes, as Envoy copies them into its header map; value (a proto string) is UTF-8.
    const value = option.header.raw_value !== undefined && option.header.raw_value.length > 0 ? Buffer.from(option.header.raw_value) : Buffer.from((option.header as { value?: string }).value ?? '', 'utf8');
    if (key.startsWith(':') || key.startsWith('x-envoy-')) continue;
    if (option.append?.value !== true) {
      for (let i = headers.length - 1; i >= 0; i--) if (headers[i]?.[0] === key) headers.splice(i, 1);
    }
    headers.push([key, value]);
  }
  const body = reply.body === undefined ? Buffer.alloc(0) : Buffer.from(reply.body);
  const filtered = headers.filter(([k]) => k !== 'content-length');
  filtered.push(['content-length', Buffer.from(String(body.length))]);
  if (body.length > 0 && !filtered.some(([k]) => k === 'content-type')) filtered.push(['content-type', Buffer.from('text/plain')]);
  return { status, headers: filtered, body };
}

async function closeStream(call: ClientDuplexStream<ProcessingRequest, ProcessingResponse>, mode: 'reset' | 'graceful', items: Item[], wait: () => Promise<Item>): Promise<void> {
  if (mode === 'reset') {
    call.cancel();
    return;
  }
  call.end();
  // Envoy waits for the server's trailers, then resets after its remote-close timeout.
  for (;;) {
    const item = items.shift() ?? (await wait());
    if (item.kind === 'status') return;
    if (item.kind === 'timeout') {
      call.cancel();
      return;
    }
  }
}

function makeResult(
  outcome: EnvoyResult['outcome'],
  status: number,
  lines: Array<[string, string | Buffer]>,
  body: Buffer,
  sent: ProcessingRequest[],
  received: ProcessingResponse[],
  grpc?: { code: number; details: string },
): EnvoyResult {
  const rawHeaders = lines.map(([k, v]): [string, Buffer] => [k, Buffer.isBuffer(v) ? v : Buffer.from(v, 'utf8')]);
  const headers = rawHeaders.map(([k, v]): [string, string] => [k, v.toString('utf8')]);
  return {
    outcome,
    status,
    headers,
    rawHeaders,
    body,
    sent,
    received,
    ...(grpc === undefined ? {} : { grpcCode: grpc.code, grpcDetails: grpc.details }),
    header: (name) => headers.find(([k]) => k === name.toLowerCase())?.[1],
    headerValues: (name) => headers.filter(([k]) => k === name.toLowerCase()).map(([, v]) => v),
    headerBytes: (name) => rawHeaders.find(([k]) => k === name.toLowerCase())?.[1],
    json: () => JSON.parse(body.toString('utf8')) as unknown,
  };
}

// observability_mode: "send and go". Envoy sends every message flagged and
// ignores whatever comes back; the server must not reply.
async function runObservability(
  call: ClientDuplexStream<ProcessingRequest, ProcessingResponse>,
  first: ProcessingRequest,
  body: Buffer,
  chunkSize: number,
  sent: ProcessingRequest[],
  received: ProcessingResponse[],
  items: Item[],
  wait: (ms: number) => Promise<Item>,
): Promise<EnvoyResult> {
  const messages: ProcessingRequest[] = [{ ...first, observability_mode: true }];
  for (let offset = 0; offset < body.length; offset += chunkSize) {
    const end = Math.min(body.length, offset + chunkSize);
    messages.push({ request_body: { body: body.subarray(offset, end), end_of_stream: end === body.length }, observability_mode: true });
  }
  for (const message of messages) {
    sent.push(message);
    call.write(message);
  }
  call.end();
  let status: { code: number; details: string } | undefined;
  for (;;) {
    const item = items.shift() ?? (await wait(1000));
    if (item.kind === 'status') status = { code: item.code, details: item.details };
    if (item.kind !== 'message') break;
  }
  return makeResult('upstream', 200, [['content-type', 'text/plain']], Buffer.from(UPSTREAM_BODY), sent, received, status);
}

async function runRaw(client: InstanceType<ServiceClientConstructor>, messages: ProcessingRequest[], metadataValues: Readonly<Record<string, string>>): Promise<RawExchange> {
  const metadata = new Metadata();
  for (const [key, value] of Object.entries(metadataValues)) metadata.set(key, value);
  const call = (client as unknown as { Process(m: Metadata): ClientDuplexStream<ProcessingRequest, ProcessingResponse> }).Process(metadata);
  const received: ProcessingResponse[] = [];
  call.on('data', (message: ProcessingResponse) => received.push(message));
  call.on('error', () => undefined);
  const status = new Promise<{ code: number; details: string }>((resolve) => call.on('status', (s: { code: number; details: string }) => resolve(s)));
  for (const message of messages) call.write(message);
  call.end();
  const timeout = new Promise<{ code: number; details: string }>((resolve) => setTimeout(() => resolve({ code: -1, details: 'no status within 5 s' }), 5000).unref());
  const final = await Promise.race([status, timeout]);
  if (final.code === -1) call.cancel();
  return { received, code: final.code, details: final.details };
}
