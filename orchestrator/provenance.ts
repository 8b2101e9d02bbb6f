/**
 * Provenance: what produced a run, so a number quoted from its summary.json can be traced back —
 * mecsim's version and git commit (and whether the checkout had uncommitted changes), the Node and
 * nats-server versions, the host, the command line and the hash of the resolved configuration.
 *
 * Nothing here may fail a run: a missing git, a checkout that is not one, or an unreadable
 * package.json leave the field out (or null) and the run goes on.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { cpus, hostname, totalmem, platform, arch, release } from 'node:os';
import { usableCores } from '../bus/cores.ts';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** the repository (or installed package) root: where package.json is */
const ROOT = dirname(dirname(fileURLToPath(import.meta.url)));

export interface Provenance {
  mecsim: {
    version: string | null;
    /** the checkout's commit; absent when mecsim does not run from a git checkout or git is missing */
    commit?: string;
    /** true when tracked files differ from the commit (untracked files, e.g. run folders, do not count) */
    dirty?: boolean;
  };
  node: string;
  /** the server's version from its INFO (the private server mecsim started, or the external one); null before connecting */
  natsServer: { version: string | null; owned: boolean | null };
  host: { name: string; platform: string; release: string; arch: string; cpus: number; usableCores: number; cpuModel: string; totalMemoryBytes: number };
  /** the process's command line (secrets given as flags or in URLs replaced by `***`) and working folder */
  command: { argv: string[]; cwd: string };
  /** sha256 of the resolved configuration (config.json) as canonical JSON: keys sorted, no whitespace */
  configSha256: string;
}

let cachedVersion: string | null | undefined;
let cachedGit: { commit?: string; dirty?: boolean } | undefined;

/** mecsim's version from its package.json; null if it cannot be read. */
export function mecsimVersion(): string | null {
  if (cachedVersion !== undefined) return cachedVersion;
  try {
    const v = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version;
    cachedVersion = typeof v === 'string' ? v : null;
  } catch {
    cachedVersion = null;
  }
  return cachedVersion;
}

/**
 * The commit of mecsim's own checkout and whether tracked files were changed. Only when ROOT itself
 * is a checkout (its `.git` exists): mecsim installed inside another project's repository must not
 * report that project's commit. Any git failure (not installed, too old, a broken checkout) leaves
 * both out.
 */
export function gitState(root = ROOT): { commit?: string; dirty?: boolean } {
  if (root === ROOT && cachedGit) return cachedGit;
  let state: { commit?: string; dirty?: boolean } = {};
  if (existsSync(join(root, '.git'))) {
    try {
      const git = (args: string[]) => execFileSync('git', ['-C', root, ...args], { encoding: 'utf8', timeout: 10_000, stdio: ['ignore', 'pipe', 'ignore'] });
      const commit = git(['rev-parse', 'HEAD']).trim();
      if (/^[0-9a-f]{40,64}$/.test(commit)) {
        state = { commit };
        try {
          state.dirty = git(['status', '--porcelain', '--untracked-files=no']).trim() !== '';
        } catch {
          /* the commit is known; whether the tree is dirty is not */
        }
      }
    } catch {
      /* git missing or not a checkout after all */
    }
  }
  if (root === ROOT) cachedGit = state;
  return state;
}

/** JSON with every object's keys sorted and no whitespace: the same configuration always gives the same text. */
export function canonicalJson(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v) ?? 'null';
  if (Array.isArray(v)) return `[${v.map((x) => (x === undefined ? 'null' : canonicalJson(x))).join(',')}]`;
  const o = v as Record<string, unknown>;
  const keys = Object.keys(o)
    .filter((k) => o[k] !== undefined)
    .sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`).join(',')}}`;
}

export function configSha256(cfg: unknown): string {
  return createHash('sha256').update(canonicalJson(cfg)).digest('hex');
}

/** flags whose value is a secret: recorded as `***` */
const SECRET_FLAGS = new Set(['--pass', '--token']);

/** The command line with passwords, tokens and URL credentials replaced by `***`. */
export function redactArgv(argv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const eq = a.indexOf('=');
    if (a.startsWith('--') && eq > 0 && SECRET_FLAGS.has(a.slice(0, eq))) out.push(`${a.slice(0, eq)}=***`);
    else if (SECRET_FLAGS.has(a) && i + 1 < argv.length) {
      out.push(a, '***');
      i++;
    } else out.push(a.replace(/([a-z][a-z0-9+.-]*:\/\/)[^/@\s]*@/gi, '$1***@'));
  }
  return out;
}

/** The provenance of a run with this resolved configuration (as written to config.json); the server's version is filled in once connected. */
export function provenance(cfg: unknown, argv: readonly string[] = process.argv): Provenance {
  const cpu = cpus();
  return {
    mecsim: { version: mecsimVersion(), ...gitState() },
    node: process.version,
    natsServer: { version: null, owned: null },
    host: { name: hostname(), platform: platform(), release: release(), arch: arch(), cpus: cpu.length, usableCores: usableCores(), cpuModel: cpu[0]?.model?.trim() ?? 'unknown', totalMemoryBytes: totalmem() },
    command: { argv: redactArgv(argv), cwd: process.cwd() },
    configSha256: configSha256(cfg),
  };
}

const esc = (s: unknown) => String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/** The short git description: `0123abcd (uncommitted changes)`, or why there is none. */
function commitText(m: Provenance['mecsim']): string {
  if (!m.commit) return 'no git checkout';
  return `${m.commit.slice(0, 12)}${m.dirty === true ? ' (uncommitted changes)' : m.dirty === false ? '' : ' (clean or not: unknown)'}`;
}

/** One line per fact, for the console (`mecsim report`); empty for a summary without provenance (runs made before it was recorded). */
export function provenanceLines(p: Partial<Provenance> | undefined): string[] {
  if (!p || typeof p !== 'object' || !p.mecsim) return [];
  const h = p.host;
  const lines = [
    `mecsim ${p.mecsim.version ?? '?'} · commit ${commitText(p.mecsim)} · Node ${p.node ?? '?'} · nats-server ${p.natsServer?.version ?? '?'}${p.natsServer?.owned ? ' (private)' : p.natsServer?.owned === false ? ' (external)' : ''}`,
    h ? `host ${h.name} · ${h.platform} ${h.arch} · ${h.cpus} × ${h.cpuModel}${h.usableCores !== undefined && h.usableCores !== h.cpus ? ` (${h.usableCores} usable)` : ''} · ${(h.totalMemoryBytes / 2 ** 30).toFixed(1)} GiB` : '',
    p.command ? `command ${p.command.argv.join(' ')} (in ${p.command.cwd})` : '',
    p.configSha256 ? `config sha256 ${p.configSha256}` : '',
  ];
  return lines.filter(Boolean);
}

/** The provenance as a small HTML block for the report's header; empty for a summary without one. */
export function provenanceHtml(p: Partial<Provenance> | undefined): string {
  const lines = provenanceLines(p);
  if (!lines.length) return '';
  return `<p class="provenance muted" style="font-size:.8rem;overflow-wrap:anywhere">${lines.map(esc).join('<br>')}</p>`;
}
