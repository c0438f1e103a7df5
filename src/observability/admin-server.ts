// The admin HTTP listener: /metrics for Prometheus, /healthz (the process
// answers) and /readyz (it should get traffic) for probes and load balancers.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Readiness {
  readonly ready: boolean;
  /** Why not, for the 503 body: e.g. "draining". */
  readonly reason: string;
}

export interface AdminDeps {
  readonly metrics: { readonly contentType: string; render(): Promise<string> };
  readiness(): Readiness;
}

export interface RunningAdmin {
  readonly port: number;
  close(): Promise<void>;
}

export async function startAdminServer(listen: string, deps: AdminDeps): Promise<RunningAdmin> {
  const server: Server = createServer((request, response) => {
    const path = (request.url ?? '/').split('?')[0];
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('method not allowed\n');
      return;
    }
    if (path === '/healthz') {
      response.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
      return;
    }
    if (path === '/readyz') {
      const state = deps.readiness();
      response.writeHead(state.ready ? 200 : 503, { 'content-type': 'text/plain' }).end(state.ready ? 'ready\n' : `not ready: ${state.reason}\n`);
      return;
    }
    if (path === '/metrics') {
      deps.metrics.render().then(
        (text) => response.writeHead(200, { 'content-type': deps.metrics.contentType }).end(text),
        (error: unknown) => response.writeHead(500, { 'content-type': 'text/plain' }).end(`metrics unavailable: ${(error as Error).message}\n`),
      );
      return;
    }
    response.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try /metrics, /healthz or /readyz\n');
  });
  const { host, port } = splitListen(listen);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

// `[::1]:9901` or `127.0.0.1:9901`; the schema already checked the form.
function splitListen(listen: string): { host: string; port: number } {
  const colon = listen.lastIndexOf(':');
  return { host: listen.slice(0, colon).replace(/^\[(.*)\]$/, '$1'), port: Number(listen.slice(colon + 1)) };
}
