// docs/configuration.md's field tables against the config schema: a field
// added to the schema must be documented, and the reference must not describe
// a field the validator would refuse.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { z } from 'zod';
import { configSchema, routeSchema } from '../../src/config/schema';

const REFERENCE = readFileSync(join(__dirname, '..', '..', 'docs', 'configuration.md'), 'utf8');

/** The backticked names in the first column of the table under `## heading`. */
function documentedFields(markdown: string, heading: string): string[] {
  const lines = markdown.split('\n');
  const start = lines.indexOf(`## ${heading}`);
  if (start === -1) throw new Error(`docs/configuration.md has no "## ${heading}" section`);
  const names: string[] = [];
  let inTable = false;
  for (const line of lines.slice(start + 1)) {
    if (line.startsWith('#')) break;
    if (!line.startsWith('|')) {
      if (inTable) break;
      continue;
    }
    inTable = true;
    const firstCell = line.split('|')[1] ?? '';
    // Header and separator rows have no backticked name.
    for (const match of firstCell.matchAll(/`([^`]+)`/g)) names.push(match[1] as string);
  }
  return names;
}

/** The keys of an object schema, seen through optional and default wrappers; undefined if it is not an object. */
function shapeOf(schema: z.ZodType): Record<string, z.ZodType> | undefined {
  let inner: z.ZodType = schema;
  while (inner instanceof z.ZodOptional || inner instanceof z.ZodDefault || inner instanceof z.ZodNullable) {
    inner = inner.unwrap() as z.ZodType;
  }
  return inner instanceof z.ZodObject ? (inner.shape as Record<string, z.ZodType>) : undefined;
}

/**
 * Fields the schema has but the table lacks. A field is documented by its own
 * name; an object field may instead list its children as `field.child`, and
 * once the table lists one child it must list them all.
 */
function undocumented(shape: Record<string, z.ZodType>, documented: ReadonlySet<string>): string[] {
  return Object.entries(shape).flatMap(([key, schema]) => {
    const children = shapeOf(schema);
    const childNames = children === undefined ? [] : Object.keys(children).map((child) => `${key}.${child}`);
    const listsChildren = childNames.some((name) => documented.has(name));
    if (documented.has(key) && !listsChildren) return [];
    if (childNames.length === 0) return [key];
    return childNames.filter((name) => !documented.has(name));
  });
}

/** Names in the table that are neither a field of the schema nor `field.child` of an object field. */
function unknown(shape: Record<string, z.ZodType>, documented: readonly string[]): string[] {
  return documented.filter((name) => {
    if (name in shape) return false;
    const [parent, child, ...rest] = name.split('.');
    const children = parent === undefined || !(parent in shape) ? undefined : shapeOf(shape[parent] as z.ZodType);
    return children === undefined || child === undefined || rest.length > 0 || !(child in children);
  });
}

const tables = [
  { heading: 'Top-level fields', shape: configSchema.shape as Record<string, z.ZodType> },
  { heading: 'Route fields', shape: routeSchema.shape as Record<string, z.ZodType> },
];

for (const { heading, shape } of tables) {
  const names = documentedFields(REFERENCE, heading);

  t.test(`${heading}: every field of the schema is in the reference`, async (t) => {
    t.ok(names.length > 0, 'the table has rows');
    t.same(undocumented(shape, new Set(names)), []);
  });

  t.test(`${heading}: the reference lists no field the schema lacks`, async (t) => {
    t.same(unknown(shape, names), []);
  });

  t.test(`${heading}: each field has one row`, async (t) => {
    t.same(names.filter((name, index) => names.indexOf(name) !== index), []);
  });
}

t.test('the checks see a missing and an invented field', async (t) => {
  const shape = { a: z.string(), m: z.strictObject({ p: z.string(), q: z.string() }).optional() };
  const page = '## Route fields\n\n| field | meaning |\n|---|---|\n| `a` | one |\n| `m.p`, `m.q` | two |\n\n## Next\n| `b` | not this table |\n';
  t.same(documentedFields(page, 'Route fields'), ['a', 'm.p', 'm.q']);
  t.same(undocumented(shape, new Set(['a', 'm.p', 'm.q'])), []);
  t.same(undocumented(shape, new Set(['a', 'm'])), [], 'an object may be documented by its own name');
  t.same(undocumented(shape, new Set(['m', 'm.p'])), ['a', 'm.q'], 'once one child is listed, all must be');
  t.same(unknown(shape, ['a', 'm', 'm.p', 'm.x', 'b', 'a.b', 'm.p.z']), ['m.x', 'b', 'a.b', 'm.p.z']);
});
