/** bus/cores.ts: the cores a process may use, its affinity capped by its cgroup's CPU quota (v1 and v2). */
import { describe, expect, it } from 'vitest';
import { availableParallelism } from 'node:os';
import { cgroupQuota, coresOf, usableCores, type ReadText } from '../../bus/cores.ts';

const files = (map: Record<string, string>): ReadText => (path) => map[path];

describe('usable cores', () => {
  it('cgroup v2: the quota of cpu.max, rounded down, never above the affinity nor below 1', () => {
    const at = (cpuMax: string) => files({ '/proc/self/cgroup': '0::/\n', '/sys/fs/cgroup/cpu.max': cpuMax });
    expect(coresOf(64, at('200000 100000\n'))).toBe(2);
    expect(coresOf(64, at('250000 100000'))).toBe(2);
    expect(coresOf(64, at('50000 100000'))).toBe(1);
    expect(coresOf(64, at('max 100000'))).toBe(64);
    expect(coresOf(2, at('800000 100000'))).toBe(2);
  });

  it("cgroup v2: the smallest quota from the process's cgroup up to the root", () => {
    const read = files({
      '/proc/self/cgroup': '0::/kubepods/pod1/c1\n',
      '/sys/fs/cgroup/kubepods/pod1/c1/cpu.max': 'max 100000',
      '/sys/fs/cgroup/kubepods/pod1/cpu.max': '300000 100000',
      '/sys/fs/cgroup/kubepods/cpu.max': '1600000 100000',
    });
    expect(cgroupQuota(read)).toBe(3);
    expect(coresOf(64, read)).toBe(3);
  });

  it('cgroup v1: cfs_quota_us / cfs_period_us of the cpu controller (-1: none), under either mount name', () => {
    const v1 = (quota: string, mount = 'cpu,cpuacct') =>
      files({ '/proc/self/cgroup': `12:memory:/docker/abc\n4:cpu,cpuacct:/docker/abc\n`, [`/sys/fs/cgroup/${mount}/docker/abc/cpu.cfs_quota_us`]: quota, [`/sys/fs/cgroup/${mount}/docker/abc/cpu.cfs_period_us`]: '100000\n' });
    expect(coresOf(32, v1('400000\n'))).toBe(4);
    expect(coresOf(32, v1('400000', 'cpu'))).toBe(4);
    expect(coresOf(32, v1('-1'))).toBe(32);
    // a container's own namespace shows its cgroup as the mount's root
    expect(coresOf(32, files({ '/proc/self/cgroup': '4:cpu,cpuacct:/\n', '/sys/fs/cgroup/cpu/cpu.cfs_quota_us': '150000', '/sys/fs/cgroup/cpu/cpu.cfs_period_us': '100000' }))).toBe(1);
  });

  it('unreadable, missing or malformed files leave the affinity as it is', () => {
    expect(coresOf(8, files({}))).toBe(8);
    expect(coresOf(8, files({ '/proc/self/cgroup': 'garbage\n0::/\n', '/sys/fs/cgroup/cpu.max': 'lots 100000' }))).toBe(8);
    expect(coresOf(8, files({ '/proc/self/cgroup': '0::/\n', '/sys/fs/cgroup/cpu.max': '200000' }))).toBe(8);
    expect(coresOf(8, files({ '/proc/self/cgroup': '0::/../../etc\n', '/sys/fs/cgroup/etc/cpu.max': '100000 100000' }))).toBe(1); // no climbing out of the mount
    expect(coresOf(0, files({}))).toBe(1);
  });

  it('this process: at least 1, at most the CPUs it may run on', () => {
    expect(usableCores()).toBeGreaterThanOrEqual(1);
    expect(usableCores()).toBeLessThanOrEqual(Math.max(1, availableParallelism()));
  });
});
