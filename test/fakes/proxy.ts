// A loopback HTTP forward proxy: CONNECT tunnels (for https endpoints) and
// absolute-form requests (for plain-http endpoints). It records what it was
// asked and counts client connections, and it dials only 127.0.0.1: names
// are mapped to loopback ports by the test, everything else is refused.
import { createServer, request as httpRequest, type Server } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';

export interface ProxyRecord {
  readonly method: string;
  /** `host:port` for CONNECT, the absolute URL otherwise. */
  readonly target: string;
}

export interface FakeProxy {
  readonly url: string;
  readonly port: number;
  readonly records: ProxyRecord[];
  /** Client TCP connections accepted so far. */
  connections(): number;
  close(): Promise<void>;
}

export interface FakeProxyOptions {
  /** `host:port` → loopback port to dial instead (e.g. a TLS front for lambda.us-east-1.amazonaws.com:443). */
  readonly routes?: Record<string, number>;
}

export async function startFakeProxy(options: FakeProxyOptions = {}): Promise<FakeProxy> {
  const records: ProxyRecord[] = [];
  const sockets = new Set<Socket>();
  let accepted = 0;
  const loopbackPort = (host: string, port: number): number | undefined => {
    const mapped = options.routes?.[`${host}:${port}`];
    if (mapped !== undefined) return mapped;
    return host === '127.0.0.1' || host === 'localhost' ? port : undefined;
  };
  const server: Server = createServer((request, response) => {
    const target = request.url ?? '';
    records.push({ method: request.method ?? '', target });
    let url: URL;
    try {
      url = new URL(target);
    } catch {
      response.writeHead(400).end('absolute-form request expected');
      return;
    }
    const port = loopbackPort(url.hostname, Number(url.port || 80));
    if (port === undefined) {
      response.writeHead(502).end('fake proxy dials loopback only');
      return;
    }
    const upstream = httpRequest({ host: '127.0.0.1', port, method: request.method, path: `${url.pathname}${url.search}`, headers: request.headers }, (answer) => {
      response.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(response);
    });
    upstream.on('error', () => response.destroy());
    // A client that hangs up mid-answer ends the upstream request too, as forward proxies do.
    response.on('close', () => {
      if (!response.writableFinished) upstream.destroy();
    });
    request.pipe(upstream);
  });
  server.on('connection', (socket: Socket) => {
    accepted += 1;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  server.on('connect', (request, client: Socket, head: Buffer) => {
    const target = request.url ?? '';
    records.push({ method: 'CONNECT', target });
    const colon = target.lastIndexOf(':');
    const port = loopbackPort(target.slice(0, colon), Number(target.slice(colon + 1)));
    if (port === undefined) {
      client.end('HTTP/1.1 502 Bad Gateway\r\n\r\n');
      return;
    }
    const upstream = connect(port, '127.0.0.1', () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length > 0) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    sockets.add(upstream);
    upstream.on('close', () => sockets.delete(upstream));
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    records,
    connections: () => accepted,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
