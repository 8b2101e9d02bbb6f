/**
 * Which scenarios a process knows: the built-in ones, and those loaded from outside the repository
 * — a folder or module path (`mecsim run ./my-scenario`) or an installed npm package
 * (`mecsim run my-mecsim-scenario`). The orchestrator and every agent process load the same module,
 * so an outside scenario runs under the same protocol, determinism and reference check as a
 * built-in one. An agent process only ever runs a scenario it was started with (built in, or named
 * by `--scenario`): a join reply cannot make it load code.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { scenarios as builtIn } from '../scenarios/index.ts';
import { scenarioProblems } from '../scenarios/contract.ts';
import type { Scenario } from '../scenarios/types.ts';

/** Where a scenario came from: built in, or the module file it was loaded from (absolute). */
export type ScenarioSource = { kind: 'builtin' } | { kind: 'module'; file: string; ref: string };

export class ScenarioLoadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ScenarioLoadError';
  }
}

/** The files tried, in order, when a scenario reference is a folder without a package.json entry. */
const FOLDER_ENTRIES = ['index.ts', 'index.mts', 'index.js', 'index.mjs', 'scenario.ts', 'scenario.js'];

export class ScenarioCatalog {
  private readonly byId = new Map<string, Scenario>();
  private readonly sources = new Map<string, ScenarioSource>();
  private readonly byRef = new Map<string, Scenario>();

  constructor(scenarios: Record<string, Scenario>) {
    for (const s of Object.values(scenarios)) {
      this.byId.set(s.id, s);
      this.sources.set(s.id, { kind: 'builtin' });
    }
  }

  /** A known scenario by id, or by the reference it was loaded with. */
  get(idOrRef: string): Scenario | undefined {
    return this.byId.get(idOrRef) ?? this.byRef.get(idOrRef);
  }

  /** Every known scenario, built-in ones first. */
  all(): Scenario[] {
    return [...this.byId.values()];
  }

  ids(): string[] {
    return [...this.byId.keys()];
  }

  sourceOf(id: string): ScenarioSource | undefined {
    return this.sources.get(id);
  }

  /**
   * The scenario `ref` names: a built-in id, a folder or file path, or a package name resolved from
   * `cwd` (as `node` would resolve it from a script there). Loaded once per process.
   */
  async load(ref: string, cwd = process.cwd()): Promise<Scenario> {
    const known = this.get(ref);
    if (known) return known;
    const file = resolveScenarioFile(ref, cwd, this.ids());
    let mod: Record<string, unknown>;
    try {
      mod = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
    } catch (e) {
      const msg = (e as Error).message;
      const hint = /require\(\)|ES Module|Cannot use import statement/.test(msg) ? ' — a scenario is an ES module: give its folder a package.json with "type": "module" (or name the file .mts)' : '';
      throw new ScenarioLoadError(`scenario ${ref}: ${file} could not be loaded: ${msg}${hint}`);
    }
    return this.addModule(mod, file, ref);
  }

  /** Adds the scenario a module exports (its default export, or `scenario`), after checking it. */
  addModule(mod: Record<string, unknown>, file: string, ref = file): Scenario {
    const s = (mod.default ?? mod.scenario) as Scenario | undefined;
    if (s === undefined) throw new ScenarioLoadError(`scenario ${ref}: ${file} exports no scenario (export it as \`export default\` or \`export const scenario\`)`);
    const problems = scenarioProblems(s);
    if (problems.length) throw new ScenarioLoadError(`scenario ${ref} (${file}) is not a valid mecsim scenario:\n  - ${problems.join('\n  - ')}`);
    const prior = this.sources.get(s.id);
    if (prior?.kind === 'builtin') throw new ScenarioLoadError(`scenario ${ref} (${file}) has id "${s.id}", which is a built-in scenario's: give it another id`);
    if (prior?.kind === 'module' && prior.file !== file) throw new ScenarioLoadError(`scenario ${ref} (${file}) has id "${s.id}", already loaded from ${prior.file}`);
    this.byId.set(s.id, s);
    this.byRef.set(ref, s);
    this.sources.set(s.id, { kind: 'module', file, ref });
    return s;
  }
}

/** The module file a scenario reference names; a clear error when there is none. */
export function resolveScenarioFile(ref: string, cwd: string, known: string[]): string {
  const looksLikePath = ref.startsWith('.') || ref.startsWith('/') || isAbsolute(ref) || /\.[cm]?[jt]s$/.test(ref);
  const path = resolve(cwd, ref);
  if (looksLikePath || existsSync(path)) {
    if (!existsSync(path)) throw new ScenarioLoadError(`scenario ${ref}: ${path} does not exist`);
    if (!statSync(path).isDirectory()) return path;
    const main = packageEntry(path);
    if (main) return main;
    const entry = FOLDER_ENTRIES.map((f) => join(path, f)).find((f) => existsSync(f));
    if (!entry) throw new ScenarioLoadError(`scenario ${ref}: the folder ${path} has no ${FOLDER_ENTRIES.join(', ')} and no package.json entry`);
    return entry;
  }
  if (!/^(@[a-z0-9._-]+\/)?[a-z0-9._-]+(\/[A-Za-z0-9._/-]+)?$/.test(ref)) throw new ScenarioLoadError(`unknown scenario "${ref}": not a built-in one (${known.join(', ')}), nor a path or an npm package name (see mecsim list)`);
  // node_modules/<name> from cwd upwards, as node resolves a bare specifier (read by hand: a package
  // may export only an `import` condition, which require.resolve does not see)
  const [name, ...sub] = ref.startsWith('@') ? [ref.split('/').slice(0, 2).join('/'), ...ref.split('/').slice(2)] : ref.split('/');
  for (let dir = resolve(cwd); ; dir = dirname(dir)) {
    const pkg = join(dir, 'node_modules', name);
    if (existsSync(pkg)) {
      if (sub.length) return resolveScenarioFile(join(pkg, ...sub), cwd, known);
      const entry = packageEntry(pkg) ?? FOLDER_ENTRIES.map((f) => join(pkg, f)).find((f) => existsSync(f));
      if (!entry) throw new ScenarioLoadError(`scenario ${ref}: the package at ${pkg} names no entry (package.json "exports" or "main")`);
      return entry;
    }
    if (dirname(dir) === dir) break;
  }
  throw new ScenarioLoadError(`unknown scenario "${ref}": not a built-in one (${known.join(', ')}), nor an installed npm package (looked from ${cwd}); give a path (./${ref}) or install the package`);
}

/** A folder with a package.json: the file its `exports` (".") or `main` names. */
function packageEntry(dir: string): string | undefined {
  const pj = join(dir, 'package.json');
  if (!existsSync(pj)) return undefined;
  let pkg: { exports?: unknown; main?: unknown };
  try {
    pkg = JSON.parse(readFileSync(pj, 'utf8'));
  } catch (e) {
    throw new ScenarioLoadError(`${pj} is not valid JSON: ${(e as Error).message}`);
  }
  const pick = (x: unknown): string | undefined => {
    if (typeof x === 'string') return x;
    if (x && typeof x === 'object') {
      const o = x as Record<string, unknown>;
      return pick(o['.']) ?? pick(o.import) ?? pick(o.default) ?? pick(o.node);
    }
    return undefined;
  };
  const rel = pick(pkg.exports) ?? (typeof pkg.main === 'string' ? pkg.main : undefined);
  if (!rel) return undefined;
  const file = resolve(dir, rel);
  if (!existsSync(file)) throw new ScenarioLoadError(`${pj} names ${rel} as its entry, which does not exist`);
  return file;
}

/** The module file an outside scenario was loaded from (undefined for a built-in one). */
export function moduleOf(id: string): string | undefined {
  const s = catalog.sourceOf(id);
  return s?.kind === 'module' ? s.file : undefined;
}

/** This process's catalog. */
export const catalog = new ScenarioCatalog(builtIn);
