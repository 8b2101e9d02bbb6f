/**
 * How the orchestrator starts an agent process. Agent processes run the TypeScript sources; loading
 * them through tsx costs about 0.5 s of CPU per process (it transforms every module at start), which
 * dominates when 100 agents start at once on 2 cores. So the orchestrator bundles agents/main.ts
 * and the project's own modules once per run with esbuild (the compiler tsx itself uses; ~0.2 s)
 * into `node_modules/.cache/mecsim/agent-<hash>.mjs` and spawns plain `node` on it: about 3× faster
 * to start. The packages it uses (the NATS client, pino, msgpack) are in the bundle too:
 * one file to load instead of about a hundred CommonJS modules, each resolved, read and compiled
 * apart. That made 100 agents in `process` placement join about 25 % sooner (slowest join 15.8 and
 * 18.1 s against 20.2 and 24.6 s, in two interleaved pairs). The same sources, so the same protocol
 * and results. If the bundle cannot be built or written (a read-only install), agents start through
 * tsx as before. MECSIM_AGENT_TSX=1 forces tsx.
 *
 * A scenario loaded from outside the repository is bundled in with it: the entry imports the
 * scenario's module, adds it to the agent's catalog and starts the agent, so the agent process runs
 * one module graph (one copy of mecsim's classes) exactly as a built-in scenario's agent does.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const AGENT_BIN = fileURLToPath(new URL('../agents/bin.ts', import.meta.url));
const AGENT_MAIN = fileURLToPath(new URL('../agents/main.ts', import.meta.url));
const CATALOG = fileURLToPath(new URL('../catalog/catalog.ts', import.meta.url));
const PROJECT = fileURLToPath(new URL('..', import.meta.url));
const TSX_LOADER = import.meta.resolve('tsx');

const entries = new Map<string, Promise<string[]>>();

/**
 * node arguments that start an agent process: [bundle], or ['--import', tsx, bin.ts] (then
 * `--scenario <file>` for a scenario from outside, which the caller passes).
 */
export function agentEntry(scenarioFile?: string): Promise<string[]> {
  const key = scenarioFile ?? '';
  let e = entries.get(key);
  if (!e) entries.set(key, (e = build(scenarioFile).catch(() => ['--import', TSX_LOADER, AGENT_BIN])));
  return e;
}

/** The entry's source when a scenario from outside is bundled in. */
function entrySource(scenarioFile: string): string {
  const q = JSON.stringify;
  return `import { catalog } from ${q(CATALOG)};\nimport * as scenario from ${q(scenarioFile)};\nimport { runAgentProcess } from ${q(AGENT_MAIN)};\ncatalog.addModule(scenario, ${q(scenarioFile)});\nrunAgentProcess();\n`;
}

async function build(scenarioFile?: string): Promise<string[]> {
  if (process.env.MECSIM_AGENT_TSX === '1') return ['--import', TSX_LOADER, AGENT_BIN];
  const { build: esbuild } = await import('esbuild');
  const dir = join(PROJECT, 'node_modules', '.cache', 'mecsim');
  // packages are bundled too; the CommonJS ones among them call require() for node's built-in modules
  const banner = "import { createRequire as __mecsimRequire } from 'node:module'; const require = __mecsimRequire(import.meta.url);";
  const input = scenarioFile ? { stdin: { contents: entrySource(scenarioFile), resolveDir: PROJECT, sourcefile: 'agent-entry.ts', loader: 'ts' as const } } : { entryPoints: [AGENT_BIN] };
  const r = await esbuild({ ...input, bundle: true, platform: 'node', format: 'esm', target: 'node20', banner: { js: banner }, write: false, outfile: join(dir, 'agent.mjs'), logLevel: 'silent' });
  const text = r.outputFiles[0].text;
  const file = join(dir, `agent-${createHash('sha256').update(text).digest('hex').slice(0, 16)}.mjs`);
  if (!existsSync(file)) {
    mkdirSync(dir, { recursive: true });
    const tmp = `${file}.tmp-${process.pid}`;
    writeFileSync(tmp, text);
    renameSync(tmp, file);
  }
  return [file];
}
