// Region and endpoint resolution: Kong's order, the function ARN's region,
// host/port/disable_https and China's DNS suffix.
import t from 'tap';
import { resolveLambdaEndpoint } from '../../src/aws/endpoint';
import { regionOfFunctionArn, resolveRegion } from '../../src/aws/region';
import { parseConfig } from '../../src/config/load';
import { resolveTarget } from '../../src/lambda/route-invoker';

const regionCases: Array<{ name: string; route: { aws_region?: string; host?: string; function_name: string }; env?: NodeJS.ProcessEnv; expected: string | undefined }> = [
  { name: 'aws_region wins over the environment', route: { aws_region: 'eu-west-1', function_name: 'f' }, env: { AWS_REGION: 'us-east-1' }, expected: 'eu-west-1' },
  { name: 'AWS_REGION before AWS_DEFAULT_REGION', route: { function_name: 'f' }, env: { AWS_REGION: 'us-east-2', AWS_DEFAULT_REGION: 'us-west-1' }, expected: 'us-east-2' },
  { name: 'AWS_DEFAULT_REGION, which the SDK does not read itself', route: { function_name: 'f' }, env: { AWS_DEFAULT_REGION: 'us-west-1' }, expected: 'us-west-1' },
  { name: 'a standard Lambda host', route: { host: 'lambda.ap-south-1.amazonaws.com', function_name: 'f' }, expected: 'ap-south-1' },
  { name: 'a China Lambda host', route: { host: 'lambda.cn-north-1.amazonaws.com.cn', function_name: 'f' }, expected: 'cn-north-1' },
  { name: 'a custom host gives no region (Kong #66)', route: { host: 'custom.lambda.endpoint', function_name: 'f' }, expected: undefined },
  { name: 'the region of a full function ARN when nothing else is set', route: { function_name: 'arn:aws:lambda:eu-central-1:123456789012:function:my-fn:prod' }, expected: 'eu-central-1' },
  { name: 'a GovCloud ARN', route: { function_name: 'arn:aws-us-gov:lambda:us-gov-west-1:123456789012:function:f' }, expected: 'us-gov-west-1' },
  { name: 'a partial ARN carries no region', route: { function_name: '123456789012:function:my-fn' }, expected: undefined },
  { name: 'nothing at all', route: { function_name: 'f' }, expected: undefined },
];

for (const c of regionCases) {
  t.test(`region: ${c.name}`, async (t) => {
    t.equal(resolveRegion(c.route, c.env ?? {}), c.expected);
  });
}

t.test('regionOfFunctionArn reads only full ARNs', async (t) => {
  t.equal(regionOfFunctionArn('arn:aws-cn:lambda:cn-northwest-1:123456789012:function:f'), 'cn-northwest-1');
  t.equal(regionOfFunctionArn('my-function'), undefined);
  t.equal(regionOfFunctionArn('my-function:alias'), undefined);
});

const endpointCases: Array<{ name: string; route: { host?: string; port: number; disable_https: boolean }; region: string | undefined; env?: NodeJS.ProcessEnv; expected: string | undefined }> = [
  { name: 'the regional public endpoint by default', route: { port: 443, disable_https: false }, region: 'us-east-1', expected: 'https://lambda.us-east-1.amazonaws.com' },
  { name: '.amazonaws.com.cn in China regions (Kong always uses .amazonaws.com)', route: { port: 443, disable_https: false }, region: 'cn-north-1', expected: 'https://lambda.cn-north-1.amazonaws.com.cn' },
  { name: 'host and a non-default port', route: { host: 'custom.lambda.endpoint', port: 10001, disable_https: false }, region: 'us-east-1', expected: 'https://custom.lambda.endpoint:10001' },
  { name: 'disable_https with a local port (SAM, emulators)', route: { host: 'localhost', port: 3001, disable_https: true }, region: 'us-east-1', expected: 'http://localhost:3001' },
  { name: "disable_https keeps port 443 unless told otherwise, as Kong's does", route: { host: 'localhost', port: 443, disable_https: true }, region: 'us-east-1', expected: 'http://localhost:443' },
  { name: 'disable_https with port 80 needs no port in the URL', route: { host: 'localhost', port: 80, disable_https: true }, region: 'us-east-1', expected: 'http://localhost' },
  { name: 'host wins over AWS_ENDPOINT_URL_LAMBDA', route: { host: 'h', port: 443, disable_https: false }, region: 'us-east-1', env: { AWS_ENDPOINT_URL_LAMBDA: 'http://127.0.0.1:9/' }, expected: 'https://h' },
  { name: 'AWS_ENDPOINT_URL_LAMBDA without host', route: { port: 443, disable_https: false }, region: 'us-east-1', env: { AWS_ENDPOINT_URL_LAMBDA: 'http://127.0.0.1:9/' }, expected: 'http://127.0.0.1:9' },
  { name: 'no host and no region', route: { port: 443, disable_https: false }, region: undefined, expected: undefined },
];

for (const c of endpointCases) {
  t.test(`endpoint: ${c.name}`, async (t) => {
    t.equal(resolveLambdaEndpoint(c.route, c.region, c.env ?? {}), c.expected);
  });
}

function routeOf(fields: string) {
  const r = parseConfig(`routes:\n  - name: r\n${fields.replace(/^/gm, '    ')}\n`, {});
  if (!r.ok) throw new Error(JSON.stringify(r.problems));
  return r.config.routes[0]!;
}

t.test('a function ARN whose region differs from the route region is a configuration problem', async (t) => {
  const resolved = resolveTarget(routeOf('function_name: arn:aws:lambda:eu-west-1:123456789012:function:f\naws_region: us-east-1'), {});
  t.equal(resolved.problem?.kind, 'config');
  t.match(resolved.problem?.message, /eu-west-1.*us-east-1/);
});

t.test('a function ARN supplies the region and endpoint when none is set, and keeps the ARN as FunctionName', async (t) => {
  const resolved = resolveTarget(routeOf('function_name: arn:aws:lambda:eu-west-1:123456789012:function:f:live\nqualifier: "7"'), {});
  t.equal(resolved.problem, undefined);
  t.equal(resolved.region, 'eu-west-1');
  t.equal(resolved.endpoint, 'https://lambda.eu-west-1.amazonaws.com');
  t.equal(resolved.target.functionName, 'arn:aws:lambda:eu-west-1:123456789012:function:f:live');
  t.equal(resolved.target.qualifier, '7');
});

t.test('a route with neither region nor host fails with "no region or host specified"', async (t) => {
  const resolved = resolveTarget(routeOf('function_name: f'), {});
  t.equal(resolved.problem?.kind, 'no_region');
  t.match(resolved.problem?.message, /no region or host specified/);
});
