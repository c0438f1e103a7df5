// `lambda-extproc dev`: a local HTTP listener that plays Envoy's ext_proc
// filter against our own gRPC server (FULL_DUPLEX_STREAMED body, raw_value
// headers, ImmediateResponse → HTTP, streamed_immediate_response → a chunked
// HTTP response written as it comes), so a laptop needs no Envoy. A
// development aid, not a production proxy: no upstream, no timeouts of its
// own, no TLS.
import { once } from 'node:events';
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Client, credentials, type ClientDuplexStream, type MethodDefinition } from '@grpc/grpc-js';
import { BodySendMode, type HeaderMap, type HeaderValueOption, type ProcessingRequest, type ProcessingResponse } from '../extproc/messages';
import { loadSchemas } from '../extproc/proto';

export interface FrontDoor {
  readonly port: number;
  close(): Promise<void>;
}

export interface FrontDoorOptions {
  /** host:port to listen on, e.g. 127.0.0.1:8000. */
  readonly listen: string;
  /** host:port of our ext_proc gRPC server. */
  readonly extproc: string;
  /** Largest request body forwarded, as Envoy's buffer limit. */
  readonly maxBodyBytes: number;
}

export const NO_ROUTE_BODY = 'no lambda-extproc route matched\n';

/** A ProcessingResponse as the front door reads it, the streamed answer (Envoy 1.37) included. */
type FrontDoorMessage = ProcessingResponse & {
  streamed_immediate_response?: {
    headers_response?: { headers?: HeaderMap; end_of_stream?: boolean };
    body_response?: { body?: Buffer; end_of_stream?: boolean };
  };
};

export async function startFrontDoor(options: FrontDoorOptions): Promise<FrontDoor> {
  const method = loadSchemas().extProc.Process as MethodDefinition<ProcessingRequest, ProcessingResponse>;
  const client = new Client(options.extproc, credentials.createInsecure(), {
    'grpc.max_send_message_length': options.maxBodyBytes * 2,
    'grpc.max_receive_message_length': options.maxBodyBytes * 2,
  });
  const open = (): ClientDuplexStream<ProcessingRequest, ProcessingResponse> =>
    client.makeBidiStreamRequest(method.path, method.requestSerialize, method.responseDeserialize);
  const server = createServer((request, response) => {
    void readBody(request, options.maxBodyBytes).then(
      (body) => (body === undefined ? reply(response, 413, [['content-type', 'text/plain']], Buffer.from('request body too large\n')) : forward(open(), request, body, response)),
      () => response.destroy(),
    );
  });
  const colon = options.listen.lastIndexOf(':');
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(Number(options.listen.slice(colon + 1)), options.listen.slice(0, colon).replace(/^\[(.*)\]$/, '$1'), () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => {
          client.close();
          resolve();
        });
      }),
  };
}

async function forward(call: ClientDuplexStream<ProcessingRequest, ProcessingResponse>, request: IncomingMessage, body: Buffer, response: ServerResponse): Promise<void> {
  response.on('close', () => call.cancel());
  call.write(toHeadersMessage(request, body.length === 0));
  // FULL_DUPLEX_STREAMED: the body follows the headers at once, as Envoy sends it.
  if (body.length > 0) call.write({ request_body: { body, end_of_stream: true } });
  // Set once streamed headers went out: from then on a failure can only cut the response, as Envoy resets it.
  let streaming = false;
  try {
    for await (const message of call as AsyncIterable<FrontDoorMessage>) {
      const streamed = message.streamed_immediate_response;
      if (streamed?.headers_response !== undefined && !streaming) {
        streaming = true;
        const lines = fromHeaderMap(streamed.headers_response.headers);
        const status = Number(lines.find(([key]) => key === ':status')?.[1] ?? 200);
        response.writeHead(status >= 200 ? status : 200, lines.filter(([key]) => !isLocalReplyHidden(key)).flat());
        // Sent now, so curl -N shows the status before the first chunk.
        response.flushHeaders();
        if (streamed.headers_response.end_of_stream === true) return void response.end();
        continue;
      }
      if (streamed?.body_response !== undefined && streaming) {
        const chunk = streamed.body_response.body ?? Buffer.alloc(0);
        if (chunk.length > 0 && !response.write(chunk)) await once(response, 'drain');
        if (streamed.body_response.end_of_stream === true) return void response.end();
        continue;
      }
      if (streaming) return void response.destroy(); // anything else after streamed headers: Envoy resets the client
      // The server asks for more time while Lambda runs; we wait anyway.
      if (message.override_message_timeout !== undefined && streamed === undefined) continue;
      if (message.immediate_response !== undefined) {
        const answer = message.immediate_response;
        reply(response, Number(answer.status?.code ?? 200), toResponseHeaders(answer.headers?.set_headers ?? []), answer.body ?? Buffer.alloc(0));
        call.cancel();
        return;
      }
      // A route waiting for the body (already sent) answers the headers CONTINUE first.
      if (message.request_headers !== undefined && body.length > 0) continue;
      break;
    }
    // The stream ended without end_of_stream: the response is cut.
    if (streaming) return void response.destroy();
    // CONTINUE: Envoy would proxy upstream, and here there is none.
    reply(response, 404, [['content-type', 'text/plain']], Buffer.from(NO_ROUTE_BODY));
    call.cancel();
  } catch (error) {
    // After streamed headers a failed ext_proc stream cuts the response (the client sees no final chunk).
    if (streaming) return void response.destroy();
    // As Envoy with failure_mode_allow off: a failed ext_proc stream is a 500.
    reply(response, 500, [['content-type', 'text/plain']], Buffer.from(`ext_proc stream failed: ${(error as { details?: string }).details ?? (error as Error).message}\n`));
  }
}

function fromHeaderMap(map: HeaderMap | undefined): Array<[string, string]> {
  return (map?.headers ?? []).map((header) => [header.key.toLowerCase(), header.raw_value === undefined ? (header.value ?? '') : Buffer.from(header.raw_value).toString('latin1')]);
}

// Headers Envoy does not take from a local reply: pseudo-headers, x-envoy-*, lengths.
function isLocalReplyHidden(key: string): boolean {
  return key.startsWith(':') || key.startsWith('x-envoy-') || key === 'content-length' || key === 'transfer-encoding';
}

// What Envoy sends first: pseudo-headers, lower-cased headers as raw_value, and the body mode.
function toHeadersMessage(request: IncomingMessage, endOfStream: boolean): ProcessingRequest {
  const headers: Array<[string, string]> = [
    [':authority', request.headers.host ?? 'localhost'],
    [':path', request.url ?? '/'],
    [':method', request.method ?? 'GET'],
    [':scheme', 'http'],
  ];
  for (let i = 0; i + 1 < request.rawHeaders.length; i += 2) {
    const name = (request.rawHeaders[i] ?? '').toLowerCase();
    if (name !== 'host') headers.push([name, request.rawHeaders[i + 1] ?? '']);
  }
  headers.push(['x-forwarded-proto', 'http'], ['x-request-id', randomUUID()]);
  return {
    request_headers: { headers: { headers: headers.map(([key, value]) => ({ key, raw_value: Buffer.from(value, 'latin1') })) }, end_of_stream: endOfStream },
    // FULL_DUPLEX_STREAMED, as the shipped Envoy config's streaming route: streaming routes stream, the others answer once.
    protocol_config: { request_body_mode: BodySendMode.FULL_DUPLEX_STREAMED, response_body_mode: BodySendMode.NONE },
  };
}

// Envoy's local reply rules: no pseudo or x-envoy-* headers, append false replaces, length recomputed.
function toResponseHeaders(options: readonly HeaderValueOption[]): Array<[string, string]> {
  const headers: Array<[string, string]> = [];
  for (const option of options) {
    const key = option.header.key.toLowerCase();
    if (isLocalReplyHidden(key)) continue;
    const value = option.header.raw_value === undefined ? '' : Buffer.from(option.header.raw_value).toString('latin1');
    if (option.append?.value !== true) {
      for (let i = headers.length - 1; i >= 0; i--) if (headers[i]?.[0] === key) headers.splice(i, 1);
    }
    headers.push([key, value]);
  }
  return headers;
}

function reply(response: ServerResponse, status: number, headers: Array<[string, string]>, body: Buffer): void {
  if (response.headersSent || response.destroyed) return;
  // Envoy answers status codes below 200 as 200 in a local reply.
  response.writeHead(status >= 200 ? status : 200, [...headers.flat(), 'content-length', String(body.length)]);
  response.end(body);
}

function readBody(request: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) tooLarge = true;
      else chunks.push(chunk);
    });
    request.on('end', () => resolve(tooLarge ? undefined : Buffer.concat(chunks)));
    request.on('error', reject);
  });
}
