/**
 * The shipped scenarios use only the public contract, so they double as examples for a model author:
 * a file in scenarios/<id>/ imports its own folder, scenarios/types.ts, scenarios/contract.ts and
 * scenarios/common/*, and no package but the pure ones the contract itself uses — never the runtime
 * (orchestrator/, agents/, bus/, catalog/), another scenario's folder, or an I/O module.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');
const SCENARIOS = join(ROOT, 'scenarios');
/** packages a scenario may import: pure computation, no I/O */
const PURE_PACKAGES = ['@sinclair/typebox', 'seedrandom'];
const CONTRACT = ['types.ts', 'contract.ts'].map((f) => join(SCENARIOS, f));

function tsFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? tsFiles(p) : p.endsWith('.ts') ? [p] : [];
  });
}

/** every module specifier a file imports or re-exports (static, side-effect and dynamic) */
function specifiers(source: string): string[] {
  const out: string[] = [];
  for (const re of [/\bfrom\s*['"]([^'"]+)['"]/g, /\bimport\s*['"]([^'"]+)['"]/g, /\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g]) for (const m of source.matchAll(re)) out.push(m[1]);
  return out;
}

/** what is wrong with `file` importing `spec`, or undefined if it is allowed */
function problem(file: string, spec: string): string | undefined {
  const folder = relative(SCENARIOS, file).split(sep)[0];
  if (!spec.startsWith('.')) {
    const pkg = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0];
    return PURE_PACKAGES.includes(pkg) ? undefined : `imports the package ${spec} (not one of ${PURE_PACKAGES.join(', ')})`;
  }
  const target = resolve(dirname(file), spec);
  if (CONTRACT.includes(target)) return undefined;
  if (target.startsWith(join(SCENARIOS, 'common') + sep)) return undefined;
  if (folder.endsWith('.ts')) return undefined; // scenarios/*.ts: the registry and the in-process runner
  if (target.startsWith(join(SCENARIOS, folder) + sep)) return undefined;
  return `imports ${relative(ROOT, target)}, outside its folder and the public contract`;
}

describe('scenarios use only the public contract', () => {
  const files = tsFiles(SCENARIOS);

  it('finds every shipped scenario folder', () => {
    const folders = new Set(files.map((f) => relative(SCENARIOS, f).split(sep)[0]).filter((f) => !f.endsWith('.ts')));
    for (const id of ['stackelberg', 'futures-spot', 'budget-nash', 'wholesale-buyback', 'offload-energy', 'ping', 'common']) expect(folders).toContain(id);
  });

  it('no file imports the runtime, another scenario, or an I/O module', () => {
    const bad = files.flatMap((f) => specifiers(readFileSync(f, 'utf8')).flatMap((s) => (problem(f, s) ? [`${relative(ROOT, f)}: ${problem(f, s)}`] : [])));
    expect(bad).toEqual([]);
  });

  it('the check itself refuses what it should', () => {
    const f = join(SCENARIOS, 'stackelberg', 'index.ts');
    expect(problem(f, '../../orchestrator/run.ts')).toMatch(/outside its folder/);
    expect(problem(f, '../../agents/host.ts')).toMatch(/outside its folder/);
    expect(problem(f, '../budget-nash/model.ts')).toMatch(/outside its folder/);
    expect(problem(f, 'node:fs')).toMatch(/package node:fs/);
    expect(problem(f, '@nats-io/transport-node')).toMatch(/package/);
    expect(problem(join(SCENARIOS, 'common', 'schema.ts'), '../../bus/control.ts')).toMatch(/outside its folder/);
    for (const ok of ['./model.ts', '../types.ts', '../contract.ts', '../common/schema.ts', '@sinclair/typebox/compiler']) expect(problem(f, ok)).toBeUndefined();
    expect(specifiers("import {\n  a,\n} from './x.ts';\nexport { b } from \"../y.ts\";\nimport './z.ts';\nconst m = await import('node:fs');")).toEqual(['./x.ts', '../y.ts', './z.ts', 'node:fs']);
  });
});
