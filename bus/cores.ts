/**
 * The cores this process may use: the CPUs it may run on (`os.availableParallelism()`, its affinity
 * mask), or fewer when its cgroup caps its CPU time (a container started with `--cpus 2`, a pod with
 * a CPU limit).
 *
 * Why: Node 20's libuv (1.46) does not read the cgroup's quota, so in a container limited to 2 CPUs
 * on a 64-core host `availableParallelism()` says 64, `--placement auto` would start 64 workers to
 * share 2 CPUs' time, and the timeouts would take a loaded machine for an idle one. Later libuv
 * versions read the quota the same way (the smallest quota from the process's cgroup up to the
 * root, a fraction rounded down, at least 1).
 */
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';

/** Reads a file's text, or undefined when it cannot be read. */
export type ReadText = (path: string) => string | undefined;

const readText: ReadText = (path) => {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
};

let cached: number | undefined;

/** usableCores() of this process (read once: a cgroup's quota does not change under a run). */
export function usableCores(): number {
  return (cached ??= coresOf(availableParallelism(), readText));
}

/** The cores of a process that may run on `affinity` CPUs, its cgroup files read with `read`. */
export function coresOf(affinity: number, read: ReadText, root = '/sys/fs/cgroup'): number {
  const quota = cgroupQuota(read, root);
  const cpus = Math.max(1, Math.floor(affinity));
  return quota === undefined ? cpus : Math.max(1, Math.min(cpus, Math.floor(quota)));
}

/** The smallest CPU quota (CPUs' worth of time) on the way from the process's cgroup to the root, or undefined if none is set. */
export function cgroupQuota(read: ReadText, root = '/sys/fs/cgroup'): number | undefined {
  let least: number | undefined;
  const take = (q: number | undefined) => {
    if (q !== undefined && Number.isFinite(q) && q > 0) least = least === undefined ? q : Math.min(least, q);
  };
  for (const line of (read('/proc/self/cgroup') ?? '').split('\n')) {
    const m = /^\d+:([^:]*):(\/.*)$/.exec(line.trim());
    if (!m) continue;
    const [, controllers, path] = m;
    if (controllers === '') {
      // cgroup v2: cpu.max is "<quota> <period>" or "max <period>"
      for (const dir of upFrom(root, path)) take(v2Quota(read(`${dir}/cpu.max`)));
    } else if (controllers.split(',').includes('cpu')) {
      // cgroup v1: the cpu controller's mount, as `cpu` or with its siblings (`cpu,cpuacct`); read once when both name the same
      for (const mount of new Set([`${root}/cpu`, `${root}/${controllers}`])) {
        for (const dir of upFrom(mount, path)) take(v1Quota(read(`${dir}/cpu.cfs_quota_us`), read(`${dir}/cpu.cfs_period_us`)));
      }
    }
  }
  return least;
}

/** `mount` + `path`, then each parent up to `mount` itself */
function upFrom(mount: string, path: string): string[] {
  const parts = path.split('/').filter((p) => p !== '' && p !== '.' && p !== '..');
  const dirs: string[] = [];
  for (let n = parts.length; n >= 0; n--) dirs.push([mount, ...parts.slice(0, n)].join('/'));
  return dirs;
}

function v2Quota(text: string | undefined): number | undefined {
  const [quota, period] = (text ?? '').trim().split(/\s+/);
  if (!quota || quota === 'max') return undefined;
  return Number(quota) / Number(period);
}

function v1Quota(quota: string | undefined, period: string | undefined): number | undefined {
  const q = Number(quota?.trim());
  const p = Number(period?.trim());
  return q > 0 && p > 0 ? q / p : undefined;
}
