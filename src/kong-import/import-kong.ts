// `lambda-extproc import-kong FILE`: decK file in, lambda-extproc YAML out,
// checked against our own validator before it is printed.
import { Document } from 'yaml';
import { formatProblems, parseConfig } from '../config/load';
import { convertDeck, type ImportNote } from './convert';
import { readDeckFile } from './read-deck';

export interface ImportOutput {
  /** The config YAML, empty when nothing could be imported. */
  readonly stdout: string;
  /** One line per note or problem. */
  readonly stderr: string;
  readonly code: number;
}

const ENV_REFERENCE = /\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

export function importKong(file: string): ImportOutput {
  const read = readDeckFile(file);
  if (!read.ok) return { stdout: '', stderr: `import-kong: ${read.problem}\n`, code: 1 };
  const { routes, notes } = convertDeck(read.deck);
  const noteLines = notes.map(formatNote).join('');
  if (routes.length === 0) {
    return { stdout: '', stderr: `${noteLines}import-kong: ${file} has no route that an aws-lambda plugin applies to\n`, code: 1 };
  }
  const doc = new Document({ listen: '127.0.0.1:50051', routes });
  doc.commentBefore = ` lambda-extproc config imported from ${file} by \`lambda-extproc import-kong\`.\n Routes are in Kong's evaluation order: here the first match wins.`;
  const yaml = doc.toString({ lineWidth: 0 });
  // `${VAR}` from decK env templates is checked with a stand-in value, so only real problems fail.
  const referenced = Object.fromEntries([...yaml.matchAll(ENV_REFERENCE)].map((m) => [m[1] ?? '', 'stand-in']));
  const checked = parseConfig(yaml, referenced);
  const vars = Object.keys(referenced);
  const envLine = vars.length > 0 ? `import-kong: set ${vars.join(', ')} in the environment: the config reads them as \${VAR}\n` : '';
  if (!checked.ok) {
    return { stdout: yaml, stderr: `${noteLines}${envLine}import-kong: the imported config does not pass check:\n${formatProblems(checked.problems)}\n`, code: 1 };
  }
  const summary = `import-kong: ${routes.length} route${routes.length === 1 ? '' : 's'} imported, ${notes.length} note${notes.length === 1 ? '' : 's'}\n`;
  return { stdout: yaml, stderr: `${noteLines}${envLine}${summary}`, code: 0 };
}

function formatNote(note: ImportNote): string {
  return `import-kong: ${note.where}: ${note.message}\n`;
}
