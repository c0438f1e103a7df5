// Keep-alive agents for the AWS SDK's HTTP handler, through proxy_url when set:
// absolute-form requests for http endpoints, a CONNECT tunnel for https ones.
import { Agent as HttpAgent, type AgentOptions } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { HttpProxyAgent } from 'http-proxy-agent';
import { HttpsProxyAgent } from 'https-proxy-agent';

export interface Agents {
  readonly httpAgent: HttpAgent;
  readonly httpsAgent: HttpsAgent;
}

export function agentsFor(proxyUrl: string | undefined, options: AgentOptions): Agents {
  if (proxyUrl === undefined) return { httpAgent: new HttpAgent(options), httpsAgent: new HttpsAgent(options) };
  return { httpAgent: new HttpProxyAgent(proxyUrl, options), httpsAgent: new HttpsProxyAgent(proxyUrl, options) };
}
