// The Lambda endpoint from the environment: AWS_ENDPOINT_URL_LAMBDA, else the
// SDK's service-independent AWS_ENDPOINT_URL, both below a route's `host`.
import t from 'tap';
import { resolveLambdaEndpoint } from '../../src/aws/endpoint';

const noHost = { port: 443, disable_https: false };

t.test('AWS_ENDPOINT_URL is the endpoint when AWS_ENDPOINT_URL_LAMBDA is not set', async (t) => {
  t.equal(resolveLambdaEndpoint(noHost, 'us-east-1', { AWS_ENDPOINT_URL: 'http://127.0.0.1:4566/' }), 'http://127.0.0.1:4566');
});

t.test('AWS_ENDPOINT_URL_LAMBDA wins over AWS_ENDPOINT_URL', async (t) => {
  const env = { AWS_ENDPOINT_URL: 'http://127.0.0.1:4566', AWS_ENDPOINT_URL_LAMBDA: 'http://127.0.0.1:9001' };
  t.equal(resolveLambdaEndpoint(noHost, 'us-east-1', env), 'http://127.0.0.1:9001');
});

t.test('an environment endpoint is used as given: port and disable_https do not apply', async (t) => {
  t.equal(resolveLambdaEndpoint({ port: 8080, disable_https: true }, 'us-east-1', { AWS_ENDPOINT_URL: 'https://lambda.example.test' }), 'https://lambda.example.test');
});

t.test('a route host wins over AWS_ENDPOINT_URL', async (t) => {
  t.equal(resolveLambdaEndpoint({ host: 'vpce.example.test', port: 443, disable_https: false }, 'us-east-1', { AWS_ENDPOINT_URL: 'http://127.0.0.1:4566' }), 'https://vpce.example.test');
});
