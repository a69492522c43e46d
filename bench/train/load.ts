/** Cores used by other processes while we run, from /proc (the machine is shared; this says how much). */
import { readFileSync } from 'node:fs';

const HZ = 100; // USER_HZ on Linux

function totals(): { busy: number; self: number; at: number } {
  try {
    const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    const idle = (cpu[3] ?? 0) + (cpu[4] ?? 0);
    const busy = cpu.reduce((a, b) => a + b, 0) - idle;
    const stat = readFileSync('/proc/self/stat', 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime + stime + cutime + cstime: children we waited for (the PyTorch peer, the plain-script run) are ours too
    const self = Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14]);
    return { busy, self, at: performance.now() };
  } catch {
    return { busy: 0, self: 0, at: performance.now() };
  }
}

/** Starts a window; calling the result returns the average number of cores other processes used in it. */
export function otherLoad(): () => number {
  const start = totals();
  return () => {
    const end = totals();
    const seconds = (end.at - start.at) / 1000;
    if (seconds <= 0) return 0;
    return Math.max(0, (end.busy - start.busy - (end.self - start.self)) / HZ / seconds);
  };
}
