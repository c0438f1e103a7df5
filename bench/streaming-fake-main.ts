// The streaming bench's fake Lambda, a process of its own: answers
// InvokeWithResponseStream after checking the SigV4 signature (the test
// suite's verifier), in AWS's event-stream framing (the test fake's encoder,
// i.e. the SDK's codec). The payload says how much to stream: the first
// `stream_bytes=N` and `chunk_bytes=K` in it (the sidecar forwards them in the
// request URI; the direct client puts them in its payload). N bytes go out as
// PayloadChunk events of K bytes (frames encoded once, reused), at the pace
// the socket drains, then InvokeComplete. Tells its parent the port over IPC;
// GET /__stats reports counts.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { serveFakeLambda } from './fake-server';
import { invokeComplete, payloadChunk, STREAM_PATH } from '../test/fakes/lambda-stream';
import { verifySigV4 } from '../test/fakes/sigv4';
import { FUNCTION_NAME, KEY_ID, SECRET } from './fixtures';

const secretOf = (id: string): string | undefined => (id === KEY_ID ? SECRET : undefined);
const COMPLETE = invokeComplete();
const MAX_STREAM_BYTES = 1024 * 1024 * 1024;
const frames = new Map<number, Buffer>();

let served = 0;
let rejected = 0;
let lastRejection = '';
let payloadBytes = 0;

function frameOf(size: number): Buffer {
  let frame = frames.get(size);
  if (frame === undefined) {
    frame = payloadChunk(Buffer.alloc(size, 0x62));
    frames.set(size, frame);
  }
  return frame;
}

function reject(response: ServerResponse, status: number, type: string, message: string): void {
  rejected += 1;
  lastRejection = `${type}: ${message}`;
  const text = JSON.stringify({ Type: 'User', message });
  response.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'x-amzn-ErrorType': type, 'x-amzn-RequestId': 'bench' });
  response.end(text);
}

function handle(request: IncomingMessage, body: Buffer, response: ServerResponse): void {
  const url = request.url ?? '/';
  if (url === '/__stats') {
    const text = JSON.stringify({ served, rejected, lastRejection, payloadBytes });
    response.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    response.end(text);
    return;
  }
  const verification = verifySigV4({ method: request.method ?? 'GET', url, headers: request.headers, body }, secretOf);
  if (!verification.ok) return reject(response, 403, verification.code, verification.message);
  const found = STREAM_PATH.exec(url.split('?')[0] ?? '');
  if (request.method !== 'POST' || found === null || decodeURIComponent(found[1] ?? '') !== FUNCTION_NAME) return reject(response, 404, 'ResourceNotFoundException', `unknown operation ${request.method} ${url}`);
  const text = body.toString('utf8');
  const total = Number(/stream_bytes=(\d+)/.exec(text)?.[1] ?? 1024);
  const chunk = Number(/chunk_bytes=(\d+)/.exec(text)?.[1] ?? 65536);
  if (!(total > 0 && total <= MAX_STREAM_BYTES && chunk > 0 && chunk <= total)) return reject(response, 400, 'InvalidRequestContentException', `bad stream_bytes/chunk_bytes in ${text.slice(0, 200)}`);
  served += 1;
  response.writeHead(200, { 'Content-Type': 'application/octet-stream', 'x-amzn-RequestId': `00000000-0000-4000-8000-${served.toString(16).padStart(12, '0')}`, 'X-Amz-Executed-Version': '$LATEST' });
  let sent = 0;
  const pump = (): void => {
    while (sent < total) {
      const size = Math.min(chunk, total - sent);
      sent += size;
      payloadBytes += size;
      if (!response.write(frameOf(size))) {
        response.once('drain', pump);
        return;
      }
    }
    response.end(COMPLETE);
  };
  response.once('close', () => (sent = total));
  pump();
}

serveFakeLambda(handle);
