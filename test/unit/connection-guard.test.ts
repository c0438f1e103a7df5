// The grpc-js internals connection-guard.ts reads, held against the installed grpc-js.
import t from 'tap';
import { Server, ServerCredentials } from '@grpc/grpc-js';
import { limitPreface, limitTlsHandshake } from '../../src/connection-guard';

t.test('limitPreface finds the http2 servers grpc-js made at bind time', async (t) => {
  const server = new Server();
  t.teardown(() => server.forceShutdown());
  t.equal(limitPreface(server, 1000, () => undefined), false, 'nothing to guard before bindAsync');
  await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (error, port) => (error ? reject(error) : resolve(port))));
  t.equal(limitPreface(server, 1000, () => undefined), true, 'the installed grpc-js still keeps http2Servers');
});

t.test('limitPreface reports false instead of throwing when grpc-js lacks the map', async (t) => {
  const server = new Server();
  delete (server as unknown as { http2Servers?: unknown }).http2Servers;
  t.equal(limitPreface(server, 1000, () => undefined), false);
});

t.test("limitTlsHandshake sets tls handshakeTimeout in the options grpc-js gives http2.createSecureServer", async (t) => {
  const server = new Server();
  t.equal(limitTlsHandshake(server, 1234), true);
  const options = (server as unknown as { commonServerOptions: Record<string, unknown> }).commonServerOptions;
  t.equal(options.handshakeTimeout, 1234);
  t.equal(options.maxSessionMemory, Number.MAX_SAFE_INTEGER, "grpc-js's own options are kept");
});
