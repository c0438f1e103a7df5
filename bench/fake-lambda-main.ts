// The bench's fake Lambda, a process of its own: checks every SigV4 signature
// (with the test suite's independent verifier), answers {"response":"yes"}
// with Amazon's headers on keep-alive connections, and records nothing but
// counters. Tells its parent the port over IPC; GET /__stats reports counts.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { serveFakeLambda } from './fake-server';
import { verifySigV4 } from '../test/fakes/sigv4';
import { FUNCTION_NAME, FUNCTION_OUTPUT, KEY_ID, SECRET } from './fixtures';

const INVOKE_PATH = `/2015-03-31/functions/${FUNCTION_NAME}/invocations`;
const secretOf = (id: string): string | undefined => (id === KEY_ID ? SECRET : undefined);

let served = 0;
let rejected = 0;
let lastRejection = '';
let sequence = 0;

function handle(request: IncomingMessage, body: Buffer, response: ServerResponse): void {
  const url = request.url ?? '/';
  if (url === '/__stats') {
    const text = JSON.stringify({ served, rejected, lastRejection });
    response.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    response.end(text);
    return;
  }
  const verification = verifySigV4({ method: request.method ?? 'GET', url, headers: request.headers, body }, secretOf);
  if (!verification.ok) {
    rejected += 1;
    lastRejection = `${verification.code}: ${verification.message}`;
    return sendError(response, 403, verification.code, verification.message);
  }
  if (request.method !== 'POST' || url.split('?')[0] !== INVOKE_PATH) {
    rejected += 1;
    lastRejection = `unknown operation ${request.method} ${url}`;
    return sendError(response, 404, 'ResourceNotFoundException', `Function not found: ${url}`);
  }
  served += 1;
  const requestId = requestIdOf(++sequence);
  response.writeHead(200, {
    'Content-Type': 'application/json',
    'Content-Length': String(FUNCTION_OUTPUT.length),
    'x-amzn-RequestId': requestId,
    'X-Amzn-Trace-Id': `Root=1-${Math.floor(Date.now() / 1000).toString(16)}-${requestId.replace(/-/g, '').slice(0, 24)};Sampled=0`,
    'X-Amz-Executed-Version': '$LATEST',
    'x-amzn-Remapped-Content-Length': '0',
  });
  response.end(FUNCTION_OUTPUT);
}

// Unique, UUID-shaped and cheap: the fake's CPU is not what is measured.
function requestIdOf(n: number): string {
  const hex = n.toString(16).padStart(12, '0');
  return `00000000-0000-4000-8000-${hex}`;
}

function sendError(response: ServerResponse, status: number, type: string, message: string): void {
  const text = JSON.stringify({ Type: 'User', message });
  response.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'x-amzn-ErrorType': type, 'x-amzn-RequestId': requestIdOf(++sequence) });
  response.end(text);
}

serveFakeLambda(handle);
