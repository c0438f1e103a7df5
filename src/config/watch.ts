// `watch: true`: reload when the config file's content changes. The directory
// is watched, not the file, because editors and Kubernetes ConfigMaps replace
// the file (rename, symlink swap) rather than write into it.
import { readFileSync, watch, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';

export interface FileWatch {
  close(): void;
}

/** Calls `onChange` once per burst of writes (after `debounceMs` of quiet) when the content differs. */
export function watchConfigFile(file: string, onChange: () => void, debounceMs = 250): FileWatch {
  let last = readOrUndefined(file);
  let timer: NodeJS.Timeout | undefined;
  const name = basename(file);
  const fire = (): void => {
    timer = undefined;
    const text = readOrUndefined(file);
    // Half-replaced files vanish for a moment; the next event brings them back.
    if (text === undefined || text === last) return;
    last = text;
    onChange();
  };
  const watcher: FSWatcher = watch(dirname(file), { persistent: false }, (_event, changed) => {
    // ConfigMaps swap a `..data` symlink; anything else in the directory is not ours.
    if (changed !== null && changed !== name && !changed.startsWith('..')) return;
    if (timer !== undefined) clearTimeout(timer);
    timer = setTimeout(fire, debounceMs);
  });
  watcher.on('error', () => undefined);
  return {
    close() {
      if (timer !== undefined) clearTimeout(timer);
      watcher.close();
    },
  };
}

function readOrUndefined(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}
