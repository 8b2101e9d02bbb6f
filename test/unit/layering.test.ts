/**
 * The layers stay apart. The runtime (orchestrator/, agents/, bus/, catalog/) names no built-in
 * scenario — not its id, not the name it is exported under — so a scenario from outside gets
 * exactly what a built-in one gets. Scenarios (and the worked example and the template a model
 * author starts from) do no I/O: no file, process, network or NATS module, no runtime layer —
 * they are decision logic the agents and the in-process runner execute alike. The list of
 * built-in scenarios comes from scenarios/index.ts, so a new one is covered without editing this.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { scenarios } from '../../scenarios/index.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const RUNTIME = ['orchestrator', 'agents', 'bus', 'catalog'];

function sources(dir: string, keep: (f: string) => boolean = () => true): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir)) {
    const p = join(dir, e);
    if (statSync(p).isDirectory()) out.push(...sources(p, keep));
    else if (/\.(c|m)?[jt]s$/.test(e) && keep(p)) out.push(p);
  }
  return out;
}
const rel = (f: string) => relative(ROOT, f);
const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Every built-in scenario's id, and the names scenarios/index.ts imports them under. */
function builtInNames(): { ids: string[]; exported: string[] } {
  const ids = Object.values(scenarios).map((s) => s.id);
  const index = readFileSync(join(ROOT, 'scenarios', 'index.ts'), 'utf8');
  const exported = [...index.matchAll(/import\s*\{([^}]*)\}\s*from\s*['"]\.\/[^'"]+\/[^'"]+['"]/g)].flatMap((m) =>
    m[1]
      .split(',')
      .map((x) => x.trim().replace(/^type\s+/, '').split(/\s+as\s+/).pop()!)
      .filter(Boolean),
  );
  return { ids, exported };
}

/** Where `text` mentions a name: an id as a token (a run id `<id>-<stamp>` counts), an exported name as an identifier. */
function mentions(text: string, ids: string[], exported: string[]): string[] {
  const found: string[] = [];
  const lines = text.split('\n');
  const patterns = [
    ...ids.flatMap((id) => [id, id[0].toUpperCase() + id.slice(1)]).map((id) => ({ name: id, re: new RegExp(`(?<![A-Za-z0-9_-])${escape(id)}(?![A-Za-z0-9_])`) })),
    ...exported.filter((n) => !ids.includes(n)).map((n) => ({ name: n, re: new RegExp(`\\b${escape(n)}\\b`) })),
  ];
  lines.forEach((line, i) => {
    for (const p of patterns) if (p.re.test(line)) found.push(`line ${i + 1} mentions "${p.name}": ${line.trim().slice(0, 120)}`);
  });
  return found;
}

/** Node built-ins with no I/O, which a scenario may use; every other built-in is refused. */
const PURE_BUILTINS = new Set(['assert', 'assert/strict', 'buffer', 'events', 'path', 'path/posix', 'path/win32', 'querystring', 'string_decoder', 'url', 'util', 'util/types']);
/** Packages that do I/O or belong to the runtime. */
const IO_PACKAGES = [/^@nats-io\//, /^nats$/, /^pino/, /^ws$/, /^undici/, /^esbuild/, /^tsx/, /^vega/, /^playwright/, /^testcontainers/, /^@testcontainers\//, /^commander$/, /^cli-progress$/, /^mecsim\/run$/];

function specifiers(text: string): string[] {
  return [...text.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+|\brequire\s*\(\s*)['"]([^'"]+)['"]/g)].map((m) => m[1]);
}

/** Why `spec`, imported by `file`, is not allowed in a scenario (undefined: allowed). */
function ioImport(file: string, spec: string): string | undefined {
  const bare = spec.replace(/^node:/, '');
  if (spec.startsWith('node:') || builtinModules.includes(bare)) return PURE_BUILTINS.has(bare) ? undefined : `the Node built-in ${spec}`;
  if (IO_PACKAGES.some((re) => re.test(spec))) return `the package ${spec}`;
  if (spec.startsWith('.')) {
    const target = rel(join(file, '..', spec));
    const layer = RUNTIME.find((d) => target === d || target.startsWith(`${d}/`));
    if (layer) return `the runtime layer ${layer}/ (${target})`;
  }
  return undefined;
}

describe('layering', () => {
  const { ids, exported } = builtInNames();

  it('finds the built-in scenarios in scenarios/index.ts', () => {
    expect(ids.length).toBeGreaterThanOrEqual(5);
    expect(exported.length).toBe(ids.length);
  });

  it('orchestrator/, agents/, bus/ and catalog/ name no built-in scenario', () => {
    const bad = RUNTIME.flatMap((d) => sources(join(ROOT, d)).flatMap((f) => mentions(readFileSync(f, 'utf8'), ids, exported).map((m) => `${rel(f)} ${m}`)));
    expect(bad).toEqual([]);
  });

  it('the name check finds a mention (so an empty list above means something)', () => {
    expect(mentions(`// as in a ${ids[0]} run\nconst x = ${exported[0]};\nrun id ${ids[0]}-20261127-204843-s1-4g24`, ids, exported)).toHaveLength(3);
    expect(mentions('PING and PONG frames; mapping, skipping', ids, exported)).toEqual([]);
  });

  it('scenarios/, examples/ and templates/ import no I/O module and no runtime layer (their tests may)', () => {
    const files = ['scenarios', 'examples', 'templates'].flatMap((d) => sources(join(ROOT, d), (f) => !/\.test\.[cm]?[jt]s$/.test(f)));
    expect(files.length).toBeGreaterThan(10);
    const bad = files.flatMap((f) => specifiers(readFileSync(f, 'utf8')).flatMap((s) => (ioImport(f, s) ? [`${rel(f)} imports ${ioImport(f, s)}`] : [])));
    expect(bad).toEqual([]);
  });

  it('the import check refuses what it should', () => {
    const f = join(ROOT, 'scenarios', 'x', 'index.ts');
    for (const s of ['node:fs', 'fs/promises', 'node:child_process', 'net', 'node:http', '@nats-io/transport-node', 'pino', '../../bus/subjects.ts', '../../orchestrator/run.ts', 'mecsim/run']) expect(ioImport(f, s), s).toBeDefined();
    for (const s of ['seedrandom', '@sinclair/typebox', '../common/rng.ts', '../types.ts', 'mecsim', 'node:path']) expect(ioImport(f, s), s).toBeUndefined();
    expect(specifiers(`import { a } from 'node:fs';\nimport type { B } from "pino";\nconst m = await import('node:net');\nimport 'side-effect';`)).toEqual(['node:fs', 'pino', 'node:net', 'side-effect']);
  });
});
