// One Process call, served straight on its HTTP/2 stream. grpc-js serves
// every other method (health) on the same port; Process streams are taken
// from its HTTP/2 servers before grpc-js builds its per-call layers (its
// Metadata, interceptor chain, promise per message, pause and resume of the
// stream around every message, trace strings): Envoy sends a few small
// messages per stream and needs none of that. What grpc-js's layer did for
// the call is done here: gRPC framing, max_message_bytes both ways,
// grpc-timeout, trailers-only errors, statuses with grpc-js's codes and texts.
import { constants as http2, type Http2Server, type IncomingHttpHeaders, type ServerHttp2Stream } from 'node:http2';
import { status as GrpcStatus, type Server } from '@grpc/grpc-js';
import { http2ServersOf, streamOpenedOf } from '../grpc-internals';
import type { OutgoingResponse, ProcessingRequest } from './messages';

export const PROCESS_PATH = '/envoy.service.ext_proc.v3.ExternalProcessor/Process';

/** What the stream logic is told of its call, in order. */
export interface CallListener {
  message(message: ProcessingRequest): void;
  /** Envoy half-closed: no message follows. */
  halfClose(): void;
  /** The call is over: Envoy reset it, or its status went out. Last, once. */
  closed(): void;
}

/** The stream logic's side of a Process call. */
export interface ProcessCall {
  /** The first value of a request header (gRPC metadata), as a gRPC library reads it. */
  metadataValue(key: string): string | undefined;
  /** Envoy reset the call, or its status went out: nothing more can be sent. */
  readonly closed: boolean;
  /** A status (OK or an error) has been sent or is on its way. */
  readonly ended: boolean;
  /** Sends one answer; false once WRITE_BUFFER answers wait to be written (whenWritable says when to go on). */
  write(message: OutgoingResponse): boolean;
  /** Resolves once the answers waiting have been written; rejects if the call closes first. */
  whenWritable(): Promise<void>;
  /** Ends the call with OK. */
  end(): void;
  /** Ends the call with an error status. */
  fail(code: GrpcStatus, details: string): void;
}

/** Opens a call: returns its listener, or fails the call itself and returns undefined. */
export type Open = (call: ProcessCall) => CallListener | undefined;

export interface ProcessCodec {
  deserialize(bytes: Buffer): ProcessingRequest;
  serialize(message: OutgoingResponse): Buffer;
}

export interface ProcessCallOptions {
  /** max_message_bytes: the largest message read or sent. */
  readonly maxMessageBytes: number;
  readonly codec: ProcessCodec;
}

// Answers buffered before write() says wait (what grpc-js's object-mode Duplex allowed).
const WRITE_BUFFER = 16;
const PREFIX_BYTES = 5;

// The headers grpc-js answered with; only uncompressed messages are read, so only identity is offered.
const RESPONSE_HEADERS = {
  [http2.HTTP2_HEADER_STATUS]: 200,
  [http2.HTTP2_HEADER_CONTENT_TYPE]: 'application/grpc+proto',
  'grpc-accept-encoding': 'identity',
  'grpc-encoding': 'identity',
};
const RESPONSE_OPTIONS = { waitForTrailers: true };
const TRAILERS_ONLY_OPTIONS = { endStream: true };

// grpc-timeout: up to 8 digits and a unit (the gRPC HTTP/2 protocol; grpc-js's pattern).
const TIMEOUT_PATTERN = /^(\d{1,8})\s*([HMSmun])$/;
const TIMEOUT_UNIT_MS: Record<string, number> = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 0.001, n: 0.000001 };

interface Waiter {
  resolve(): void;
  reject(error: Error): void;
}

class Http2ProcessCall implements ProcessCall {
  closed = false;
  ended = false;
  private listener: CallListener | undefined;
  private headersSent = false;
  // The start of a message not yet whole (a message may span DATA frames, a frame hold several).
  private partial: Buffer[] | undefined;
  private partialBytes = 0;
  // Bytes the partial message needs: its prefix, or prefix and content once the prefix is in.
  private partialNeeded = 0;
  private unwritten = 0;
  private waiters: Waiter[] | undefined;
  private deadline: NodeJS.Timeout | undefined;
  // One callback for every write: called once the frame is handed to HTTP/2.
  private readonly written = (): void => {
    this.unwritten--;
    if (this.unwritten === 0 && this.waiters !== undefined) this.release();
  };

  constructor(
    private readonly stream: ServerHttp2Stream,
    private readonly headers: IncomingHttpHeaders,
    private readonly options: ProcessCallOptions,
  ) {}

  start(open: Open): void {
    const stream = this.stream;
    stream.on('error', ignore);
    stream.on('close', () => this.onClose());
    // Read to the end even after the status, so a client still sending is not held by flow control.
    stream.on('data', (chunk: Buffer) => this.onData(chunk));
    stream.on('end', () => {
      if (!this.ended) this.listener?.halfClose();
    });
    const timeout = this.headers['grpc-timeout'];
    if (timeout !== undefined && !this.startDeadline(timeout)) return;
    this.listener = open(this);
  }

  metadataValue(key: string): string | undefined {
    const value = this.headers[key];
    // As grpc-js's Metadata: repeated values arrive joined by ', ' (node:http2), the first is taken.
    const first = Array.isArray(value) ? value[0] : value;
    if (first === undefined) return undefined;
    const comma = first.indexOf(',');
    return (comma === -1 ? first : first.slice(0, comma)).trim();
  }

  write(message: OutgoingResponse): boolean {
    if (this.closed || this.ended || this.stream.destroyed || this.stream.closed) return false;
    const bytes = this.options.codec.serialize(message);
    if (bytes.length > this.options.maxMessageBytes) {
      this.fail(GrpcStatus.RESOURCE_EXHAUSTED, `Sent message larger than max (${bytes.length} vs. ${this.options.maxMessageBytes})`);
      return false;
    }
    const frame = Buffer.allocUnsafe(PREFIX_BYTES + bytes.length);
    frame[0] = 0;
    frame.writeUInt32BE(bytes.length, 1);
    frame.set(bytes, PREFIX_BYTES);
    if (!this.headersSent) {
      this.headersSent = true;
      this.stream.respond(RESPONSE_HEADERS, RESPONSE_OPTIONS);
    }
    this.unwritten++;
    this.stream.write(frame, this.written);
    return this.unwritten < WRITE_BUFFER;
  }

  whenWritable(): Promise<void> {
    if (this.closed) return Promise.reject(closedByEnvoy());
    if (this.unwritten === 0) return Promise.resolve();
    return new Promise((resolve, reject) => (this.waiters ??= []).push({ resolve, reject }));
  }

  end(): void {
    this.sendStatus(GrpcStatus.OK, 'OK');
  }

  fail(code: GrpcStatus, details: string): void {
    this.sendStatus(code, details);
  }

  private sendStatus(code: GrpcStatus, details: string): void {
    if (this.closed || this.ended) return;
    this.ended = true;
    const stream = this.stream;
    if (stream.destroyed || stream.closed) return this.onClose();
    const trailers = { 'grpc-status': String(code), 'grpc-message': encodeURI(details) };
    if (this.headersSent) {
      stream.once('wantTrailers', () => stream.sendTrailers(trailers));
      stream.end();
    } else {
      // Nothing sent yet: the status goes in the one HEADERS frame, which ends the stream.
      this.headersSent = true;
      stream.respond({ ...RESPONSE_HEADERS, ...trailers }, TRAILERS_ONLY_OPTIONS);
    }
    // As with grpc-js: the call is over once its status is out; later messages are read and dropped.
    process.nextTick(() => this.onClose());
  }

  private onData(chunk: Buffer): void {
    const listener = this.listener;
    if (this.ended || this.closed || listener === undefined) return;
    let data = chunk;
    if (this.partial !== undefined) {
      // Kept as a list until the message is whole: one copy per message, however many frames it spans.
      this.partial.push(chunk);
      this.partialBytes += chunk.length;
      if (this.partialBytes < this.partialNeeded) return;
      data = Buffer.concat(this.partial, this.partialBytes);
      this.partial = undefined;
    }
    while (data.length >= PREFIX_BYTES) {
      const length = data.readUInt32BE(1);
      if (length > this.options.maxMessageBytes) return this.fail(GrpcStatus.RESOURCE_EXHAUSTED, `Received message larger than max (${length} vs. ${this.options.maxMessageBytes})`);
      if (data.length < PREFIX_BYTES + length) break;
      if (data[0] !== 0) return this.rejectCompressed();
      let message: ProcessingRequest;
      try {
        message = this.options.codec.deserialize(data.subarray(PREFIX_BYTES, PREFIX_BYTES + length));
      } catch (error) {
        return this.fail(GrpcStatus.INTERNAL, `could not decode a ProcessingRequest: ${(error as Error).message}`);
      }
      data = data.subarray(PREFIX_BYTES + length);
      try {
        listener.message(message);
      } catch (error) {
        // Thrown inside the stream's 'data' event it would end the process: it ends this call instead.
        return this.fail(GrpcStatus.INTERNAL, `internal error: ${(error as Error).message}`);
      }
      if (this.ended || this.closed) return;
    }
    if (data.length === 0) return;
    this.partial = [data];
    this.partialBytes = data.length;
    this.partialNeeded = data.length < PREFIX_BYTES ? PREFIX_BYTES : PREFIX_BYTES + data.readUInt32BE(1);
  }

  private rejectCompressed(): void {
    const encoding = this.headers['grpc-encoding'];
    if (encoding === undefined || encoding === 'identity') return this.fail(GrpcStatus.INTERNAL, 'a message has the compressed flag set without a grpc-encoding');
    this.fail(GrpcStatus.UNIMPLEMENTED, `Received message compressed with unsupported encoding "${String(encoding)}": lambda-extproc reads uncompressed messages only`);
  }

  /** Starts the grpc-timeout deadline; false (the call failed) when the header is not one. */
  private startDeadline(header: string | string[]): boolean {
    const match = TIMEOUT_PATTERN.exec(String(header));
    if (match === null) {
      this.fail(GrpcStatus.INTERNAL, `Invalid grpc-timeout value "${String(header)}"`);
      return false;
    }
    const ms = Number(match[1]) * (TIMEOUT_UNIT_MS[match[2] as string] as number);
    this.deadline = setTimeout(() => this.fail(GrpcStatus.DEADLINE_EXCEEDED, 'Deadline exceeded'), Math.ceil(ms));
    return true;
  }

  private onClose(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.deadline !== undefined) clearTimeout(this.deadline);
    if (this.waiters !== undefined) this.release();
    this.listener?.closed();
  }

  private release(): void {
    const waiters = this.waiters ?? [];
    this.waiters = undefined;
    for (const waiter of waiters) {
      if (this.closed) waiter.reject(closedByEnvoy());
      else waiter.resolve();
    }
  }
}

function ignore(): void {
  // An error on a stream is followed by its close, which ends the call.
}

/** Why a write can no longer go out. */
export function closedByEnvoy(): Error {
  return new Error('invocation cancelled: Envoy closed the stream');
}

type StreamListener = (stream: ServerHttp2Stream, headers: IncomingHttpHeaders, flags: number, rawHeaders: string[]) => void;

/** grpc-js's http2 servers and stream accounting, once bound; undefined when it lacks them. */
function takeable(server: Server): { servers: Iterable<Http2Server>; opened: (stream: ServerHttp2Stream) => void } | undefined {
  const servers = http2ServersOf(server);
  const opened = streamOpenedOf(server);
  if (servers === undefined || servers.size === 0 || opened === undefined) return undefined;
  return { servers: servers.keys(), opened };
}

/** Whether grpc-js still has what takeProcessCalls needs (after bindAsync); test/unit/extproc-call.test.ts holds it. */
export function canTakeProcessCalls(server: Server): boolean {
  return takeable(server) !== undefined;
}

/**
 * After bindAsync: Process streams with a gRPC content type are served here,
 * every other stream goes to grpc-js's own handler (a wrong content type gets
 * its 415). grpc-js still counts the stream for max_connection_idle_ms.
 * Throws when grpc-js no longer has the internals this needs.
 */
export function takeProcessCalls(server: Server, open: Open, options: ProcessCallOptions): void {
  const internals = takeable(server);
  if (internals === undefined) {
    throw new Error('this grpc-js does not expose its http2 servers: Process calls cannot be served (lambda-extproc is built for @grpc/grpc-js 1.14)');
  }
  const { servers, opened } = internals;
  for (const http2Server of servers) {
    const grpcHandlers = http2Server.listeners('stream') as StreamListener[];
    http2Server.removeAllListeners('stream');
    http2Server.on('stream', (stream: ServerHttp2Stream, headers: IncomingHttpHeaders, flags: number, rawHeaders: string[]) => {
      const contentType = headers[http2.HTTP2_HEADER_CONTENT_TYPE];
      if (headers[http2.HTTP2_HEADER_PATH] === PROCESS_PATH && typeof contentType === 'string' && contentType.startsWith('application/grpc')) {
        opened(stream);
        new Http2ProcessCall(stream, headers, options).start(open);
        return;
      }
      for (const handler of grpcHandlers) handler.call(http2Server, stream, headers, flags, rawHeaders);
    });
  }
}
