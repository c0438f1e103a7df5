// One Process call on grpc-js's call layer (its server-interceptor API), below
// the ServerDuplexStream that grpc-js otherwise wraps around every call. That
// wrapper is a Node Duplex stream in object mode: per call it built a
// Readable and a Writable, and every message in or out went through their
// buffers, events and next-tick callbacks; Envoy's few messages per stream need
// none of it. Here grpc-js hands the call's messages straight to the stream
// logic, and answers go straight to grpc-js's sendMessage and sendStatus.
import { Metadata, ServerInterceptingCall, status as GrpcStatus, type ServerInterceptingCallInterface, type ServerInterceptor } from '@grpc/grpc-js';

/** What grpc-js's call layer reports to (its InterceptingServerListener). */
type CallLayerListener = Parameters<ServerInterceptingCallInterface['start']>[0];
type Open = (call: ProcessCall) => CallListener | undefined;
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

const NO_METADATA = new Metadata();

// What the Duplex wrapper buffered (objectMode highWaterMark) before write() said wait.
const WRITE_BUFFER = 16;

interface Waiter {
  resolve(): void;
  reject(error: Error): void;
}

// One object per call: the stream logic's ProcessCall, and the listener grpc-js's call layer reports to.
class GrpcProcessCall implements ProcessCall, CallLayerListener {
  // Replaced by the call's own as it starts; never written to.
  metadata = NO_METADATA;
  closed = false;
  ended = false;
  private listener: CallListener | undefined;
  private unwritten = 0;
  private waiters: Waiter[] | undefined;
  // One callback for every write: grpc-js calls it once the message is handed to HTTP/2.
  private readonly written = (): void => {
    this.unwritten--;
    if (this.unwritten === 0 && this.waiters !== undefined) this.release();
  };

  constructor(
    private readonly call: ServerInterceptingCallInterface,
    private readonly open: Open,
  ) {}

  onReceiveMetadata(metadata: Metadata): void {
    this.metadata = metadata;
    this.listener = this.open(this);
    if (this.listener !== undefined) this.call.startRead();
  }

  onReceiveMessage(message: ProcessingRequest): void {
    this.listener?.message(message);
    // One message at a time, as the Duplex read them; the stream logic queues its own work.
    if (!this.closed) this.call.startRead();
  }

  onReceiveHalfClose(): void {
    this.listener?.halfClose();
  }

  onCancel(): void {
    if (this.closed) return;
    this.onClosed();
    this.listener?.closed();
  }

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
 * What the interceptor gives grpc-js for a Process call: grpc-js's own call,
 * started with the GrpcProcessCall as its listener instead of the handler's
 * (so no Duplex is made); everything else is the call's. grpc-js uses only
 * this interface of what an interceptor returns (its handler runners call
 * start(), and sendStatus() on a failure).
 */
class TakenCall implements ServerInterceptingCallInterface {
  constructor(
    private readonly call: ServerInterceptingCallInterface,
    private readonly listener: GrpcProcessCall,
  ) {}

  start(): void {
    this.call.start(this.listener);
  }
  sendMetadata(metadata: Metadata): void {
    this.call.sendMetadata(metadata);
  }
  sendMessage(message: unknown, callback: () => void): void {
    this.call.sendMessage(message, callback);
  }
  sendStatus(status: Parameters<ServerInterceptingCallInterface['sendStatus']>[0]): void {
    this.call.sendStatus(status);
  }
  startRead(): void {
    this.call.startRead();
  }
  getPeer(): string {
    return this.call.getPeer();
  }
  getDeadline(): ReturnType<ServerInterceptingCallInterface['getDeadline']> {
    return this.call.getDeadline();
  }
  getHost(): string {
    return this.call.getHost();
  }
  getAuthContext(): ReturnType<ServerInterceptingCallInterface['getAuthContext']> {
    return this.call.getAuthContext();
  }
  getConnectionInfo(): ReturnType<ServerInterceptingCallInterface['getConnectionInfo']> {
    return this.call.getConnectionInfo();
  }
  getMetricsRecorder(): ReturnType<ServerInterceptingCallInterface['getMetricsRecorder']> {
    return this.call.getMetricsRecorder();
  }
}

/**
 * A server interceptor that takes every Process call before grpc-js makes its
 * stream wrapper: `open` gets the call and returns its listener (or fails the
 * call itself). Calls of other methods pass through untouched. The Process
 * handler registered with addService is never reached for them.
 */
export function processCallInterceptor(open: Open): ServerInterceptor {
  return (method, call) => {
    if (method.path !== PROCESS_PATH) return new ServerInterceptingCall(call);
    // Typed as grpc-js's class; grpc-js needs only its interface (see TakenCall).
    return new TakenCall(call, new GrpcProcessCall(call, open)) as unknown as ServerInterceptingCall;
  };
}
