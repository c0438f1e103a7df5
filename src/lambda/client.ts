// One LambdaClient per (region, endpoint, credentials, connection settings),
// built on first use and reused for every request after.
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import type { AwsCredentialIdentityProvider } from '@smithy/types';
import { HttpsProxyAgent } from 'https-proxy-agent';
import { HttpProxyAgent } from 'http-proxy-agent';
import { captureRawHeaders } from './raw-headers';

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
  destroy(): void;
}

export function createLambdaClientCache(): LambdaClientCache {
  const clients = new Map<string, LambdaClient>();
  return {
    clientFor(settings) {
      const key = [settings.region, settings.endpoint ?? '', settings.credentialsKey, settings.keepalive, settings.proxyUrl ?? ''].join('|');
      let client = clients.get(key);
      if (client === undefined) {
        client = buildClient(settings);
        clients.set(key, client);
      }
      return client;
    },
    destroy() {
      for (const client of clients.values()) client.destroy();
      clients.clear();
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
    requestHandler: new NodeHttpHandler({
      httpAgent: settings.proxyUrl === undefined ? new HttpAgent(agentOptions) : new HttpProxyAgent(settings.proxyUrl, agentOptions),
      httpsAgent: settings.proxyUrl === undefined ? new HttpsAgent(agentOptions) : new HttpsProxyAgent(settings.proxyUrl, agentOptions),
    }),
  });
  captureRawHeaders(client);
  return client;
}
