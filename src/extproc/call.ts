// One Process call on grpc-js's call layer (its server-interceptor API), below
// the ServerDuplexStream that grpc-js otherwise wraps around every call. That
// wrapper is a Node Duplex stream in object mode: per call it built a
// Readable and a Writable, and every message in or out went through their
// buffers, events and next-tick callbacks; Envoy's few messages per stream need
// none of it. Here grpc-js hands the call's messages straight to the stream
// logic, and answers go straight to grpc-js's sendMessage and sendStatus.
import { Metadata, ServerInterceptingCall, status as GrpcStatus, type ServerInterceptingCallInterface, type ServerInterceptor } from '@grpc/grpc-js';
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
  readonly metadata: Metadata;
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

// What the Duplex wrapper buffered (objectMode highWaterMark) before write() said wait.
const WRITE_BUFFER = 16;

interface Waiter {
  resolve(): void;
  reject(error: Error): void;
}

class GrpcProcessCall implements ProcessCall {
  closed = false;
  ended = false;
  private unwritten = 0;
  private waiters: Waiter[] | undefined;
  // One callback for every write: grpc-js calls it once the message is handed to HTTP/2.
  private readonly written = (): void => {
    this.unwritten--;
    if (this.unwritten === 0 && this.waiters !== undefined) this.release();
  };

  constructor(
    private readonly call: ServerInterceptingCallInterface,
    readonly metadata: Metadata,
  ) {}

  write(message: OutgoingResponse): boolean {
    if (this.closed || this.ended) return false;
    this.unwritten++;
    this.call.sendMessage(message, this.written);
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

  onClosed(): void {
    this.closed = true;
    if (this.waiters !== undefined) this.release();
  }

  private sendStatus(code: GrpcStatus, details: string): void {
    if (this.closed || this.ended) return;
    this.ended = true;
    this.call.sendStatus({ code, details, metadata: null });
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

/** Why a write can no longer go out. */
export function closedByEnvoy(): Error {
  return new Error('invocation cancelled: Envoy closed the stream');
}

/**
 * A server interceptor that takes every Process call before grpc-js makes its
 * stream wrapper: `open` gets the call and returns its listener (or fails the
 * call itself). Calls of other methods pass through untouched. The Process
 * handler registered with addService is never reached for them.
 */
export function processCallInterceptor(open: (call: ProcessCall) => CallListener | undefined): ServerInterceptor {
  return (method, call) => {
    if (method.path !== PROCESS_PATH) return new ServerInterceptingCall(call);
    let processCall: GrpcProcessCall | undefined;
    let listener: CallListener | undefined;
    return new ServerInterceptingCall(call, {
      start: (next) =>
        next({
          onReceiveMetadata(metadata) {
            processCall = new GrpcProcessCall(call, metadata);
            listener = open(processCall);
            if (listener !== undefined) call.startRead();
          },
          onReceiveMessage(message: ProcessingRequest) {
            listener?.message(message);
            // One message at a time, as the Duplex read them; the stream logic queues its own work.
            if (processCall !== undefined && !processCall.closed) call.startRead();
          },
          onReceiveHalfClose() {
            listener?.halfClose();
          },
          onCancel() {
            if (processCall === undefined || processCall.closed) return;
            processCall.onClosed();
            listener?.closed();
          },
        }),
    });
  };
}
