// CPU time and resident memory of any process, from Linux /proc.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

let ticksPerSecond: number | undefined;

function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    const text = execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim();
    const value = Number(text);
    ticksPerSecond = Number.isFinite(value) && value > 0 ? value : 100;
  }
  return ticksPerSecond;
}

// The command name may contain spaces: fields are counted after its ')'.
function statFields(pid: number): string[] {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/** The process and its children: a sidecar with `workers: N` is a primary and N workers. */
export function processTree(pid: number): number[] {
  const children: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (Number(statFields(Number(entry))[1]) === pid) children.push(Number(entry));
    } catch {
      // exited while the list was read
    }
  }
  return [pid, ...children];
}

/** utime + stime of the process and its children (all threads), in microseconds. */
export function cpuMicrosOf(pid: number): number {
  let ticks = 0;
  for (const member of processTree(pid)) {
    const fields = statFields(member);
    ticks += Number(fields[11]) + Number(fields[12]);
  }
  return (ticks * 1e6) / clockTicks();
}

/** read-like and write-like system calls (syscr, syscw of /proc/<pid>/io) of the process and its children. */
export function ioCallsOf(pid: number): { readonly reads: number; readonly writes: number } {
  let reads = 0;
  let writes = 0;
  for (const member of processTree(pid)) {
    try {
      const io = readFileSync(`/proc/${member}/io`, 'utf8');
      reads += Number(/^syscr:\s+(\d+)/m.exec(io)?.[1] ?? 0);
      writes += Number(/^syscw:\s+(\d+)/m.exec(io)?.[1] ?? 0);
    } catch {
      // exited, or /proc/<pid>/io not readable here: counted as none
    }
  }
  return { reads, writes };
}

/** Resident set size in bytes, of the process and its children. */
export function rssBytesOf(pid: number): number {
  let bytes = 0;
  for (const member of processTree(pid)) {
    const status = readFileSync(`/proc/${member}/status`, 'utf8');
    const found = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
    bytes += found === null ? 0 : Number(found[1]) * 1024;
  }
  return bytes;
}

/** Warms the CLK_TCK lookup so no measurement window pays for it. */
export function primeProcStats(): void {
  clockTicks();
}
