/**
 * `mecsim new <name> [--dir D]`: a scenario folder from templates/scenario — a small but working
 * mechanism (posted price found by bisection over message rounds), its reference and its own test —
 * that depends on this mecsim and passes `npm test` once `npm install` has linked it.
 *
 * The folder is written whole or not at all: into a temporary sibling first, renamed into place at
 * the end (an existing folder is never overwritten or merged into).
 */
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const TEMPLATE = join(ROOT, 'templates', 'scenario');
/** The template's own placeholder id, replaced by the new scenario's name. */
const TEMPLATE_ID = 'my-scenario';

/** A scenario's id (scenarios/contract.ts): it names run folders, so a lower-case token. */
export const SCENARIO_ID = /^[a-z0-9][a-z0-9._-]{0,63}$/;

export class ScaffoldError extends Error {}

export interface Scaffolded {
  dir: string;
  files: string[];
}

/**
 * How the new folder depends on this mecsim: by path to a checkout (`file:`), or on its version
 * when this mecsim is itself an installed package (under node_modules).
 */
function dependency(): string {
  const root = ROOT.replace(/\/$/, '');
  if (!root.split('/').includes('node_modules')) return `file:${root}`;
  return `^${(JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version}`;
}

/** The files of a new scenario called `name`, by relative path. */
export function scaffoldFiles(name: string): Record<string, string> {
  const read = (f: string) => readFileSync(join(TEMPLATE, f), 'utf8');
  const fill = (s: string) =>
    s
      .replaceAll(TEMPLATE_ID, name)
      .replaceAll('MECSIM_DEPENDENCY', dependency())
      .replaceAll('MECSIM_GUIDE', join(ROOT, 'docs', 'guide.md'));
  return {
    'package.json': fill(read('package.json.template')),
    'index.ts': fill(read('index.ts')),
    'index.test.ts': fill(read('index.test.ts')),
    'README.md': fill(read('README.md')),
  };
}

/**
 * Writes the scenario folder `<dir>/<name>`. Throws ScaffoldError (a usage error) for a name that
 * is not a scenario id, one a built-in scenario has, or a folder that exists.
 */
export function scaffold(name: string, dir: string, builtIn: readonly string[]): Scaffolded {
  if (!SCENARIO_ID.test(name)) throw new ScaffoldError(`new: "${name}" is not a scenario id: 1–64 characters of a–z, 0–9, ".", "_" and "-", starting with a letter or digit (it names run folders), e.g. mecsim new edge-auction`);
  if (builtIn.includes(name)) throw new ScaffoldError(`new: "${name}" is a built-in scenario's id; choose another name`);
  const parent = resolve(dir);
  if (existsSync(parent) && !statSync(parent).isDirectory()) throw new ScaffoldError(`new: --dir ${dir} is a file, not a folder`);
  const target = join(parent, name);
  if (existsSync(target)) throw new ScaffoldError(`new: ${target} already exists; mecsim new never overwrites a folder (choose another name or --dir)`);
  const files = scaffoldFiles(name);
  mkdirSync(parent, { recursive: true });
  // a plain mkdir (not mkdtemp, which makes it private to its owner): the folder gets the usual mode
  const tmp = join(parent, `.${name}.new-${process.pid}-${Date.now().toString(36)}`);
  mkdirSync(tmp);
  try {
    for (const [f, text] of Object.entries(files)) writeFileSync(join(tmp, f), text);
    // renaming onto an existing folder fails (or replaces an empty one): checked again just before
    if (existsSync(target)) throw new ScaffoldError(`new: ${target} appeared while it was being written; nothing was changed`);
    renameSync(tmp, target);
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    if (e instanceof ScaffoldError) throw e;
    throw new ScaffoldError(`new: could not write ${target}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  return { dir: target, files: Object.keys(files) };
}

/** What to do next, for the console. */
export function nextSteps(s: Scaffolded, cwd = process.cwd()): string {
  const rel = s.dir.startsWith(cwd + '/') ? s.dir.slice(cwd.length + 1) : s.dir;
  return `created ${rel}/ (${s.files.join(', ')}): scenario "${basename(s.dir)}"
next:
  cd ${rel}
  npm install      # links mecsim (its package.json depends on this mecsim by path)
  npm test         # in process and distributed over NATS, each against the reference
  npx mecsim run . # one distributed run
`;
}
