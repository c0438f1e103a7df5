// The ext_proc side of the floors: the least an ext_proc server can do, on
// the same grpc-js server settings and Process serializer as lambda-extproc.
// Each stream: CONTINUE the headers of a request with a body, then, once the
// request is complete, one fixed ImmediateResponse (the sidecar's answer,
// byte for byte in shape, encoded once); then, as a correct sidecar must, it
// lets Envoy close the stream: OK on Envoy's half-close, nothing on its
// reset, OK after CLOSE_WAIT_MS for a client that does neither (trailers
// sent at once would race Envoy's reset). Like the sidecar it raises
// nghttp2's rapid-reset limits: the load generator resets every stream after
// its answer, as Envoy does, and without them a floor's connections were
// sent GOAWAY under load (≈ 2 % of its requests failed).
import { loadPackageDefinition, Server, ServerCredentials, status, type GrpcObject, type ServerDuplexStream, type ServiceDefinition } from '@grpc/grpc-js';
import { encodeImmediateResponse } from '../src/extproc/encode-immediate';
import type { OutgoingResponse, ProcessingRequest, ProcessingResponse } from '../src/extproc/messages';
import { passEncodedResponses } from '../src/extproc/proto';
import { createDeadlines, type Deadline } from '../src/extproc/deadlines';
import { CLOSE_WAIT_MS } from '../src/extproc/stream';
import { RAISED_RESET_LIMITS, raiseResetLimits, supportsResetLimits } from '../src/extproc/reset-limits';
import { loadExtProcDefinition } from './ext-proc-codec';
import { FUNCTION_OUTPUT } from './fixtures';

const MAX_MESSAGE_BYTES = 8 * 1024 * 1024;

const header = (name: string, value: string) => ({ name, value, append: false });
const IMMEDIATE = encodeImmediateResponse(
  200,
  [
    header('content-type', 'application/json'),
    header('x-amzn-requestid', '00000000-0000-4000-8000-000000000001'),
    header('x-amzn-trace-id', 'Root=1-66000000-000000000000000000000001;Sampled=0'),
    header('x-amz-executed-version', '$LATEST'),
    header('x-amzn-remapped-content-length', '0'),
  ],
  FUNCTION_OUTPUT,
  'lambda_extproc_response',
);
const CONTINUE_HEADERS: ProcessingResponse = { request_headers: { response: { status: 0 } } };

type Call = ServerDuplexStream<ProcessingRequest, OutgoingResponse>;
// The sidecar's own shared deadline tick for the bounded wait after the answer.
const deadlines = createDeadlines(50);

/** A complete request: its body size, and the two ways to end its stream. */
export type OnRequest = (bodyBytes: number, answer: () => void, fail: (reason: string) => void) => void;

function processStream(onRequest: OnRequest): (call: Call) => void {
  return (call) => {
    let complete = false;
    let halfClosed = false;
    let closeWait: Deadline | undefined;
    const end = (): void => {
      closeWait?.cancel();
      closeWait = undefined;
      if (!call.writableEnded) call.end();
    };
    const answer = (): void => {
      if (call.cancelled) return;
      call.write(IMMEDIATE);
      if (halfClosed) call.end();
      else closeWait = deadlines.add(CLOSE_WAIT_MS, end);
    };
    const fail = (reason: string): void => {
      if (!call.cancelled) call.emit('error', { code: status.INTERNAL, details: reason, name: 'FloorError', message: reason });
    };
    call.on('data', (message: ProcessingRequest) => {
      if (complete) return;
      if (message.request === 'request_headers') {
        if (message.request_headers?.end_of_stream !== true) return call.write(CONTINUE_HEADERS);
        complete = true;
        onRequest(0, answer, fail);
      } else if (message.request === 'request_body') {
        complete = true;
        onRequest(message.request_body?.body?.length ?? 0, answer, fail);
      }
    });
    call.on('end', () => {
      halfClosed = true;
      // Answered (waiting) or never complete: OK now; still invoking, answer() ends it.
      if (closeWait !== undefined || !complete) end();
    });
    call.on('cancelled', () => closeWait?.cancel());
    call.on('error', () => undefined);
  };
}

/** Serves ext_proc on a loopback port and tells the bench (over IPC) which. */
export function serveFloor(name: string, onRequest: OnRequest): void {
  const root = loadPackageDefinition(loadExtProcDefinition()) as GrpcObject;
  const service = ((((root.envoy as GrpcObject).service as GrpcObject).ext_proc as GrpcObject).v3 as GrpcObject).ExternalProcessor as unknown as { service: ServiceDefinition };
  const server = new Server({ 'grpc.max_receive_message_length': MAX_MESSAGE_BYTES, 'grpc.max_send_message_length': MAX_MESSAGE_BYTES, 'grpc.enable_channelz': 0 });
  if (supportsResetLimits(process.version)) raiseResetLimits(server, RAISED_RESET_LIMITS);
  server.addService(passEncodedResponses(service.service), { Process: processStream(onRequest) });
  server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (error, port) => {
    if (error !== null) {
      process.stderr.write(`${name} cannot listen: ${error.message}\n`);
      process.exit(1);
    }
    process.send?.({ ready: true, port });
  });
  process.on('disconnect', () => process.exit(0));
  process.on('SIGTERM', () => process.exit(0));
}
