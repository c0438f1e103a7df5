import t from 'tap';
import { examplePath } from '../../src/dev/dev-command';
import { parseDevAddress } from '../../src/dev/dev-address';
import { parseFunctionName } from '../../src/dev/local-runtime';
import type { RouteConfig } from '../../src/config/schema';

t.test('a bare port is a loopback address; host:port stays; nonsense is refused', async (t) => {
  const cases: Array<[string, string | undefined]> = [
    ['8000', '127.0.0.1:8000'],
    ['0', '127.0.0.1:0'],
    ['65535', '127.0.0.1:65535'],
    ['65536', undefined],
    ['127.0.0.1:8000', '127.0.0.1:8000'],
    ['0.0.0.0:8000', '0.0.0.0:8000'],
    ['localhost:8000', 'localhost:8000'],
    ['[::1]:8000', '[::1]:8000'],
    ['8000x', undefined],
    [':8000', undefined],
    ['127.0.0.1', undefined],
    ['http://127.0.0.1:8000', undefined],
    ['127.0.0.1:99999', undefined],
    ['', undefined],
  ];
  for (const [value, expected] of cases) t.equal(parseDevAddress(value), expected, JSON.stringify(value));
});

t.test('a function is named by name, name:qualifier or ARN, as Lambda accepts', async (t) => {
  t.same(parseFunctionName('hello'), { name: 'hello', qualifier: undefined });
  t.same(parseFunctionName('hello:live'), { name: 'hello', qualifier: 'live' });
  t.same(parseFunctionName('arn:aws:lambda:us-east-1:123456789012:function:hello'), { name: 'hello', qualifier: undefined });
  t.same(parseFunctionName('arn:aws:lambda:us-east-1:123456789012:function:hello:7'), { name: 'hello', qualifier: '7' });
});

t.test('the "Try:" path of a route is one its match takes', async (t) => {
  const route = (match: RouteConfig['match']): RouteConfig => ({ name: 'r', match } as RouteConfig);
  t.equal(examplePath(route({ path: '/hello' })), '/hello');
  t.equal(examplePath(route({ path_prefix: '/echo' })), '/echo');
  t.equal(examplePath(route({ path_prefix: '/api/' })), '/api/hello');
  t.equal(examplePath(route({ path_template: '/site/{slug}/{proxy+}' })), '/site/slug/proxy');
  t.equal(examplePath(route({ path_regex: '^/x' })), undefined);
  t.equal(examplePath(route(undefined)), undefined);
});
