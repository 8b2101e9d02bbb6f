/**
 * bus/fastparse.ts and bus/fastpublish.ts are written against the internals of one version of the
 * NATS client: package.json pins every @nats-io package to that one exact version, the lock and the
 * install agree, and there is one copy of @nats-io/nats-core, the one the transport package loads.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';

const ROOT = new URL('../../', import.meta.url);
const read = (p: string) => JSON.parse(readFileSync(new URL(p, ROOT), 'utf8'));
const pkg = read('package.json');
const lock = read('package-lock.json');
const nats = Object.entries({ ...pkg.dependencies, ...pkg.devDependencies } as Record<string, string>).filter(([n]) => n.startsWith('@nats-io/'));

describe('the NATS client packages', () => {
  it('are pinned to one exact version, the core package among them', () => {
    expect(nats.map(([n]) => n)).toEqual(expect.arrayContaining(['@nats-io/nats-core', '@nats-io/transport-node']));
    for (const [n, v] of nats) expect(v, n).toMatch(/^\d+\.\d+\.\d+$/);
    expect(new Set(nats.map(([, v]) => v)).size).toBe(1);
  });

  it('are locked and installed at the pinned version, with a single copy of each', () => {
    const req = createRequire(new URL('package.json', ROOT));
    for (const [n, v] of nats) {
      expect(lock.packages[`node_modules/${n}`]?.version, `${n} in package-lock.json`).toBe(v);
      expect(read(`node_modules/${n}/package.json`).version, `${n} installed`).toBe(v);
    }
    const nested = Object.keys(lock.packages).filter((p) => /node_modules\/.+\/node_modules\/@nats-io\//.test(p));
    expect(nested, 'nested copies of @nats-io packages in package-lock.json').toEqual([]);
    // the core package the transport loads is the one this project declares
    const fromTransport = createRequire(req.resolve('@nats-io/transport-node')).resolve('@nats-io/nats-core/internal');
    expect(fromTransport).toBe(req.resolve('@nats-io/nats-core/internal'));
  });
});
