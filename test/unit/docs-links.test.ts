// Relative links in the README and docs/ lead somewhere: the file exists and,
// for `page.md#anchor`, the page has a heading with GitHub's anchor for it.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import t from 'tap';

const ROOT = join(__dirname, '..', '..');

/** GitHub's heading anchor: lower case, punctuation dropped, spaces to hyphens; repeats get -1, -2, … */
function anchorsOf(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  for (const line of withoutCode(markdown)) {
    const heading = /^#{1,6}\s+(.*)$/.exec(line)?.[1];
    if (heading === undefined) continue;
    const base = heading
      .trim()
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-');
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    anchors.add(count === 0 ? base : `${base}-${count}`);
  }
  return anchors;
}

/** The page's lines outside fenced code blocks. */
function withoutCode(markdown: string): string[] {
  let inFence = false;
  return markdown.split('\n').filter((line) => {
    if (line.trimStart().startsWith('```')) {
      inFence = !inFence;
      return false;
    }
    return !inFence;
  });
}

/** Targets of inline links that are not absolute URLs. */
function relativeLinks(markdown: string): string[] {
  const links: string[] = [];
  for (const line of withoutCode(markdown)) {
    for (const match of line.matchAll(/\]\(([^)\s]+)\)/g)) {
      const target = match[1] as string;
      if (!/^[a-z]+:/i.test(target)) links.push(target);
    }
  }
  return links;
}

/** Why a link from `page` is broken, or undefined when it is fine. */
function brokenBecause(page: string, target: string): string | undefined {
  const [path = '', anchor] = target.split('#');
  const file = path === '' ? page : normalize(join(dirname(page), path));
  if (!existsSync(join(ROOT, file))) return `${file} does not exist`;
  if (anchor === undefined) return undefined;
  if (!file.endsWith('.md')) return `${file} is not a page with headings`;
  return anchorsOf(readFileSync(join(ROOT, file), 'utf8')).has(anchor) ? undefined : `${file} has no heading #${anchor}`;
}

const pages = ['README.md', ...readdirSync(join(ROOT, 'docs')).filter((name) => name.endsWith('.md')).map((name) => `docs/${name}`)];

for (const page of pages) {
  t.test(`${page}: relative links resolve`, async (t) => {
    const broken = relativeLinks(readFileSync(join(ROOT, page), 'utf8'))
      .map((target) => ({ target, why: brokenBecause(page, target) }))
      .filter((link) => link.why !== undefined);
    t.same(broken, []);
  });
}

t.test('every docs page is reachable from the docs index', async (t) => {
  const index = relativeLinks(readFileSync(join(ROOT, 'docs', 'README.md'), 'utf8')).map((target) => target.split('#')[0]);
  const unlisted = pages.filter((page) => page.startsWith('docs/') && page !== 'docs/README.md' && !index.includes(page.slice('docs/'.length)));
  t.same(unlisted, []);
});

t.test('anchors and broken links are recognised as GitHub renders them', async (t) => {
  const anchors = anchorsOf('# A page\n## More than one core (`workers`)\n## EKS: IAM roles\n## Logs\n## Logs\n```\n## not a heading\n```\n');
  t.same([...anchors], ['a-page', 'more-than-one-core-workers', 'eks-iam-roles', 'logs', 'logs-1']);
  t.equal(brokenBecause('docs/README.md', 'configuration.md#route-fields'), undefined);
  t.match(brokenBecause('docs/README.md', 'configuration.md#no-such-heading') ?? '', /no heading/);
  t.match(brokenBecause('README.md', 'docs/nope.md') ?? '', /does not exist/);
});
