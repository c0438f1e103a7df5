// What the bench's two fake Lambda processes share: a keep-alive HTTP server
// on loopback that hands each request and its whole body to `handle`, tells
// the parent its port over IPC, and exits with the parent.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export function serveFakeLambda(handle: (request: IncomingMessage, body: Buffer, response: ServerResponse) => void): void {
  const server = createServer({ keepAlive: true }, (request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => handle(request, chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks), response));
  });
  // Longer than any client's idle timeout, so the server never closes a socket a client is about to reuse.
  server.keepAliveTimeout = 120_000;
  server.headersTimeout = 125_000;
  server.listen(0, '127.0.0.1', () => {
    process.send?.({ ready: true, port: (server.address() as AddressInfo).port });
  });
  process.on('disconnect', () => process.exit(0));
  process.on('SIGTERM', () => process.exit(0));
}
