// Connections to Lambda, built on first use and reused for every request
// after: an undici keep-alive pool per (origin, keepalive) for the lean invoke
// path, and a LambdaClient per (region, endpoint, credentials, proxy) for
// routes that go through proxy_url. Owned by the app, so they outlive reloads.
import { LambdaClient } from '@aws-sdk/client-lambda';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import type { AwsCredentialIdentityProvider } from '@smithy/types';
import { agentsFor } from '../aws/http-agents';
import { Pool } from 'undici';
import { captureRawHeaders } from './raw-headers';
import { limitResponseBody } from './response-limit';

export interface ClientSettings {
  readonly region: string;
  readonly endpoint: string | undefined;
  readonly credentialsKey: string;
  readonly credentials: AwsCredentialIdentityProvider;
  readonly keepalive: number;
  readonly proxyUrl: string | undefined;
}

export interface LambdaClientCache {
  clientFor(settings: ClientSettings): LambdaClient;
  poolFor(origin: string, keepalive: number): Pool;
  destroy(): Promise<void>;
}

// As many sockets per origin as the SDK path allows.
const MAX_CONNECTIONS = 256;

export function createLambdaClientCache(): LambdaClientCache {
  const clients = new Map<string, LambdaClient>();
  const pools = new Map<string, Pool>();
  return {
    poolFor(origin, keepalive) {
      const key = `${origin}|${keepalive}`;
      let pool = pools.get(key);
      if (pool === undefined) {
        pool = new Pool(origin, { connections: MAX_CONNECTIONS, pipelining: 1, keepAliveTimeout: keepalive, keepAliveMaxTimeout: keepalive });
        pools.set(key, pool);
      }
      return pool;
    },
    clientFor(settings) {
      const key = [settings.region, settings.endpoint ?? '', settings.credentialsKey, settings.keepalive, settings.proxyUrl ?? ''].join('|');
      let client = clients.get(key);
      if (client === undefined) {
        client = buildClient(settings);
        clients.set(key, client);
      }
      return client;
    },
    async destroy() {
      for (const client of clients.values()) client.destroy();
      clients.clear();
      const all = [...pools.values()];
      pools.clear();
      await Promise.all(all.map((pool) => pool.destroy()));
    },
  };
}

function buildClient(settings: ClientSettings): LambdaClient {
  const agentOptions = { keepAlive: true, timeout: settings.keepalive, maxSockets: 256, scheduling: 'lifo' as const };
  const client = new LambdaClient({
    region: settings.region,
    ...(settings.endpoint === undefined ? {} : { endpoint: settings.endpoint }),
    credentials: settings.credentials,
    // A gateway must not run a function twice behind the client's back.
    maxAttempts: 1,
    requestHandler: new NodeHttpHandler(agentsFor(settings.proxyUrl, agentOptions)),
  });
  captureRawHeaders(client);
  limitResponseBody(client);
  return client;
}
