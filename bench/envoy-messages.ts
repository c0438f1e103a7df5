// What Envoy's ext_proc filter sends for one request of the bench route, built
// and serialized once per body size: request_headers (raw_value, end_of_stream
// only when there is no body, protocol_config BUFFERED) and, with a body, one
// BUFFERED request_body with end_of_stream.
import type { ProcessingRequest } from '../src/extproc/messages';
import { frameMessage, type ExtProcCodec } from './ext-proc-codec';
import { ROUTE_PATH } from './fixtures';

export interface EnvoyFrames {
  readonly headers: Buffer;
  /** Absent for a bodiless request: the headers message ends the stream. */
  readonly body: Buffer | undefined;
}

const BUFFERED = 2;

export function buildEnvoyFrames(codec: ExtProcCodec, bodyBytes: number): EnvoyFrames {
  const hasBody = bodyBytes > 0;
  const lines: Array<[string, string]> = [
    [':authority', 'api.example.com'],
    [':path', `${ROUTE_PATH}?bench=1`],
    [':method', hasBody ? 'POST' : 'GET'],
    [':scheme', 'https'],
    ['user-agent', 'lambda-extproc-bench/1'],
    ['accept', '*/*'],
    ...(hasBody ? ([['content-type', 'application/octet-stream'], ['content-length', String(bodyBytes)]] as Array<[string, string]>) : []),
    ['x-forwarded-proto', 'https'],
    ['x-request-id', '7f0c6a52-3d0e-4b8f-9a61-2b1d7c9e0a11'],
  ];
  const first: ProcessingRequest = {
    request_headers: {
      headers: { headers: lines.map(([key, value]) => ({ key, raw_value: Buffer.from(value, 'latin1') })) },
      end_of_stream: !hasBody,
    },
    protocol_config: { request_body_mode: BUFFERED, response_body_mode: 0 },
  };
  const headers = frameMessage(codec.encodeRequest(first));
  if (!hasBody) return { headers, body: undefined };
  const body = Buffer.alloc(bodyBytes, 0x61);
  return { headers, body: frameMessage(codec.encodeRequest({ request_body: { body, end_of_stream: true } })) };
}
