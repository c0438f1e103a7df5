// Floor (a): the least an ext_proc server can do, a process of its own on the
// same grpc-js server settings as lambda-extproc. Each stream: CONTINUE the
// headers of a request with a body, then one fixed ImmediateResponse (the
// sidecar's answer, byte for byte in shape) and OK. It calls nothing.
import { loadPackageDefinition, Server, ServerCredentials, type GrpcObject, type ServerDuplexStream, type ServiceDefinition } from '@grpc/grpc-js';
import type { ProcessingRequest, ProcessingResponse } from '../src/extproc/messages';
import { loadExtProcDefinition } from './ext-proc-codec';
import { FUNCTION_OUTPUT } from './fixtures';

const MAX_MESSAGE_BYTES = 8 * 1024 * 1024;

const header = (key: string, value: string) => ({ header: { key, raw_value: Buffer.from(value, 'latin1') }, append: { value: false } });
const IMMEDIATE: ProcessingResponse = {
  immediate_response: {
    status: { code: 200 },
    headers: {
      set_headers: [
        header('content-type', 'application/json'),
        header('x-amzn-requestid', '00000000-0000-4000-8000-000000000001'),
        header('x-amzn-trace-id', 'Root=1-66000000-000000000000000000000001;Sampled=0'),
        header('x-amz-executed-version', '$LATEST'),
        header('x-amzn-remapped-content-length', '0'),
      ],
    },
    body: FUNCTION_OUTPUT,
    details: 'lambda_extproc_response',
  },
};
const CONTINUE_HEADERS: ProcessingResponse = { request_headers: { response: { status: 0 } } };

function handleProcess(call: ServerDuplexStream<ProcessingRequest, ProcessingResponse>): void {
  let answered = false;
  const answer = (): void => {
    answered = true;
    call.write(IMMEDIATE);
    call.end();
  };
  call.on('data', (message: ProcessingRequest) => {
    if (answered) return;
    if (message.request === 'request_headers') {
      if (message.request_headers?.end_of_stream === true) answer();
      else call.write(CONTINUE_HEADERS);
    } else if (message.request === 'request_body') answer();
  });
  call.on('end', () => {
    if (!call.writableEnded) call.end();
  });
  call.on('error', () => undefined);
}

const root = loadPackageDefinition(loadExtProcDefinition()) as GrpcObject;
const service = ((((root.envoy as GrpcObject).service as GrpcObject).ext_proc as GrpcObject).v3 as GrpcObject).ExternalProcessor as unknown as { service: ServiceDefinition };
const server = new Server({ 'grpc.max_receive_message_length': MAX_MESSAGE_BYTES, 'grpc.max_send_message_length': MAX_MESSAGE_BYTES, 'grpc.enable_channelz': 0 });
server.addService(service.service, { Process: handleProcess });
server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (error, port) => {
  if (error !== null) {
    process.stderr.write(`grpc floor cannot listen: ${error.message}\n`);
    process.exit(1);
  }
  process.send?.({ ready: true, port });
});
process.on('disconnect', () => process.exit(0));
process.on('SIGTERM', () => process.exit(0));
