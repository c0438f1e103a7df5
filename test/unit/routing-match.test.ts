// Route matching: path_regex spans the whole path, as Envoy's safe_regex does.
import t from 'tap';
import { parseConfig } from '../../src/config/load';
import { compileRoutes, selectRoute } from '../../src/routing';

function table(matches: string[]) {
  const routes = matches.map((match, i) => `  - name: r${i}\n    function_name: f${i}\n    aws_region: us-east-1\n    match: ${match}\n`).join('');
  const loaded = parseConfig(`routes:\n${routes}`, {});
  if (!loaded.ok) throw new Error(JSON.stringify(loaded.problems));
  return compileRoutes(loaded.config.routes);
}

const select = (routes: ReturnType<typeof table>, pathname: string, method = 'GET') => {
  const selection = selectRoute(routes, { metadataRoute: undefined, xdsRouteName: undefined, method, pathname });
  return selection.kind === 'route' ? { name: selection.route.config.name, pathParameters: selection.match.pathParameters } : selection.kind;
};

t.test('path_regex matches the whole path, not a part of it', async (t) => {
  const routes = table(["{ path_regex: '/private/(?<id>[0-9]+)' }"]);
  t.same(select(routes, '/private/1'), { name: 'r0', pathParameters: { id: '1' } }, 'the whole path: named captures become pathParameters');
  t.equal(select(routes, '/public/x/private/1'), 'none', 'a match in the middle of the path is no match');
  t.equal(select(routes, '/private/1/more'), 'none', 'nor a match at its start only');
  t.equal(select(routes, '/private/1x'), 'none');
});

t.test('alternations and anchors the author wrote keep their meaning inside the whole-path match', async (t) => {
  const routes = table(["{ path_regex: '/a|/b/(?<rest>.*)' }", "{ path_regex: '^/c/[0-9]+$' }", "{ path_regex: '/d/.*' }"]);
  t.same(select(routes, '/a'), { name: 'r0', pathParameters: {} });
  t.same(select(routes, '/b/x/y'), { name: 'r0', pathParameters: { rest: 'x/y' } }, 'each alternative spans the whole path');
  t.equal(select(routes, '/a/more'), 'none', 'the first alternative is anchored at its end too');
  t.equal(select(routes, '/x/b/y'), 'none', 'the last alternative is anchored at its start too');
  t.same(select(routes, '/c/12'), { name: 'r1', pathParameters: {} }, 'explicit ^ and $ still work');
  t.same(select(routes, '/d/any/thing'), { name: 'r2', pathParameters: {} }, 'a trailing .* admits any rest');
});

t.test('a route reached by name keeps its regex captures only when the whole path matches', async (t) => {
  const routes = table(["{ path_regex: '/items/(?<id>[0-9]+)' }"]);
  const byName = (pathname: string) => {
    const selection = selectRoute(routes, { metadataRoute: 'r0', xdsRouteName: undefined, method: 'GET', pathname });
    return selection.kind === 'route' ? selection.match.pathParameters : undefined;
  };
  t.same(byName('/items/7'), { id: '7' });
  t.same(byName('/v1/items/7'), {}, 'a name selects the route; the regex still does not fit part of the path');
});
