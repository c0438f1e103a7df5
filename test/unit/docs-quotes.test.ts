// A code block in the README or docs/ marked `<!-- quoted from PATH -->` must
// appear in PATH as written (comment lines, blank lines and the block's
// indentation aside), so a shipped file cannot change under its documentation.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';

const ROOT = join(__dirname, '..', '..');
const MARKER = /^\s*<!-- quoted from (\S+) -->\s*$/;

interface Quote {
  readonly page: string;
  readonly source: string;
  readonly lines: string[];
}

/** Every marked block of a page: the fenced block right after the marker, without its fence. */
function quotesOf(page: string, markdown: string): Quote[] {
  const lines = markdown.split('\n');
  const quotes: Quote[] = [];
  lines.forEach((line, index) => {
    const source = MARKER.exec(line)?.[1];
    if (source === undefined) return;
    const fence = lines[index + 1] ?? '';
    const indent = fence.length - fence.trimStart().length;
    if (!fence.trimStart().startsWith('```')) throw new Error(`${page}: the line after "quoted from ${source}" must open a code block`);
    const body: string[] = [];
    for (const next of lines.slice(index + 2)) {
      if (next.trim() === '```') break;
      body.push(next.slice(indent));
    }
    quotes.push({ page, source, lines: body });
  });
  return quotes;
}

const meaningful = (line: string): boolean => line.trim() !== '' && !line.trimStart().startsWith('#');
const indentOf = (line: string): number => line.length - line.trimStart().length;

/** Whether `quoted` is a run of `file`'s lines at one indentation, comment and blank lines left out of both. */
function appearsIn(quoted: readonly string[], file: string): boolean {
  const wanted = quoted.filter(meaningful);
  const have = file.split('\n').filter(meaningful);
  const first = wanted[0];
  if (first === undefined) return false;
  return have.some((line, start) => {
    const shift = indentOf(line) - indentOf(first);
    if (shift < 0 || line.trimStart() !== first.trimStart()) return false;
    return wanted.every((want, offset) => have[start + offset] === ' '.repeat(shift) + want);
  });
}

const pages = ['README.md', ...readdirSync(join(ROOT, 'docs')).filter((name) => name.endsWith('.md')).map((name) => `docs/${name}`)];
const quotes = pages.flatMap((page) => quotesOf(page, readFileSync(join(ROOT, page), 'utf8')));

t.test('docs/envoy.md quotes the shipped Envoy config', async (t) => {
  t.ok(quotes.some((q) => q.page === 'docs/envoy.md' && q.source === 'envoy/envoy.yaml'));
});

for (const quote of quotes) {
  t.test(`${quote.page}: the block quoted from ${quote.source} is in that file`, async (t) => {
    t.ok(appearsIn(quote.lines, readFileSync(join(ROOT, quote.source), 'utf8')), quote.lines.join('\n'));
  });
}

t.test('a changed, reordered or re-nested line is seen', async (t) => {
  const file = 'a:\n  # why\n  b: 1\n\n  c: [x, y]\nd: 2\n';
  t.ok(appearsIn(['b: 1', 'c: [x, y]'], file));
  t.notOk(appearsIn(['b: 1', 'c: [x]'], file));
  t.notOk(appearsIn(['c: [x, y]', 'b: 1'], file));
  t.notOk(appearsIn(['b: 1', '  c: [x, y]'], file));
  t.notOk(appearsIn(['c: [x, y]', 'd: 2'], file));
});
