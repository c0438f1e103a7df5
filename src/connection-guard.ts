// A connection that never finishes its handshake would hold a descriptor and
// a session forever: grpc-js (1.14) times out neither TLS (Node's 120 s
// default aside) nor the HTTP/2 preface, and its max_connection_idle_ms is
// too generous for them (it must spare Envoy's idle keep-alive connection).
// Envoy sends its preface and SETTINGS as soon as it connects, so a session
// without the peer's SETTINGS after `timeoutMs` is not Envoy: it is destroyed.
//
// grpc-js creates its http2 servers inside bindAsync and keeps them in a
// private map; test/unit/connection-guard.test.ts holds that against the
// installed grpc-js, and the caller logs when it is gone.
import type { Server } from '@grpc/grpc-js';
import type { ServerHttp2Session } from 'node:http2';
import { http2OptionsOf, http2ServersOf } from './grpc-internals';

/**
 * TLS servers only: Node's tls handshakeTimeout, set on the options grpc-js
 * gives http2.createSecureServer. Must run before bindAsync.
 */
export function limitTlsHandshake(server: Server, timeoutMs: number): boolean {
  const options = http2OptionsOf(server);
  if (options === undefined) return false;
  options.handshakeTimeout = timeoutMs;
  return true;
}

/**
 * After bindAsync: every new session must show the peer's SETTINGS (the end
 * of the HTTP/2 preface) within `timeoutMs`, else it is destroyed.
 * Returns false when grpc-js no longer has the map of its http2 servers.
 */
export function limitPreface(server: Server, timeoutMs: number, onReaped: () => void): boolean {
  const servers = http2ServersOf(server);
  if (servers === undefined || servers.size === 0) return false;
  const onSession = (session: ServerHttp2Session): void => {
    const timer = setTimeout(() => {
      if (session.destroyed) return;
      onReaped();
      session.destroy();
    }, timeoutMs);
    timer.unref();
    const clear = (): void => clearTimeout(timer);
    session.once('remoteSettings', clear);
    session.once('close', clear);
  };
  for (const http2Server of servers.keys()) http2Server.on('session', onSession);
  return true;
}
