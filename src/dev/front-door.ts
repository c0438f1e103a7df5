// `lambda-extproc dev`: a local HTTP listener that plays Envoy's ext_proc
// filter against our own gRPC server (BUFFERED body, raw_value headers,
// ImmediateResponse → HTTP), so a laptop needs no Envoy. A development aid,
// not a production proxy: no upstream, no timeouts of its own, no TLS.
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Client, credentials, type ClientDuplexStream, type MethodDefinition } from '@grpc/grpc-js';
import { BodySendMode, type HeaderValueOption, type ProcessingRequest, type ProcessingResponse } from '../extproc/messages';
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
  try {
    for await (const message of call as AsyncIterable<ProcessingResponse>) {
      // The server asks for more time while Lambda runs; we wait anyway.
      if (message.override_message_timeout !== undefined) continue;
      if (message.immediate_response !== undefined) {
        const answer = message.immediate_response;
        reply(response, Number(answer.status?.code ?? 200), toResponseHeaders(answer.headers?.set_headers ?? []), answer.body ?? Buffer.alloc(0));
        call.cancel();
        return;
      }
      if (message.request_headers !== undefined && body.length > 0) {
        call.write({ request_body: { body, end_of_stream: true } });
        continue;
      }
      break;
    }
    // CONTINUE: Envoy would proxy upstream, and here there is none.
    reply(response, 404, [['content-type', 'text/plain']], Buffer.from(NO_ROUTE_BODY));
    call.cancel();
  } catch (error) {
    // As Envoy with failure_mode_allow off: a failed ext_proc stream is a 500.
    reply(response, 500, [['content-type', 'text/plain']], Buffer.from(`ext_proc stream failed: ${(error as { details?: string }).details ?? (error as Error).message}\n`));
  }
}

// What Envoy sends first: pseudo-headers, lower-cased headers as raw_value, and BUFFERED mode.
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
    protocol_config: { request_body_mode: BodySendMode.BUFFERED, response_body_mode: BodySendMode.NONE },
  };
}

// Envoy's local reply rules: no pseudo or x-envoy-* headers, append false replaces, length recomputed.
function toResponseHeaders(options: readonly HeaderValueOption[]): Array<[string, string]> {
  const headers: Array<[string, string]> = [];
  for (const option of options) {
    const key = option.header.key.toLowerCase();
    if (key.startsWith(':') || key.startsWith('x-envoy-') || key === 'content-length' || key === 'transfer-encoding') continue;
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
