/** The real CLI driven in-process by the unit tests: parsing a command, and running `cluster init` into a temporary folder. */
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { buildProgram } from '../../orchestrator/cli.ts';

/** What the CLI's `path` subcommand (e.g. ['run']) would be called with for `args`, without running it. */
export async function parseWith(path: string[], args: string[]): Promise<{ scenarioId: string; opts: Record<string, unknown> }> {
  const program = buildProgram();
  const quiet = (c: Command) => c.configureOutput({ writeOut: () => undefined, writeErr: () => undefined, outputError: () => undefined });
  quiet(program);
  let cmd: Command = program;
  for (const name of path) cmd = quiet(cmd.commands.find((c) => c.name() === name) as Command);
  let got: { scenarioId: string; opts: Record<string, unknown> } | undefined;
  cmd.action((scenarioId: string, opts: Record<string, unknown>) => {
    got = { scenarioId, opts };
  });
  await program.parseAsync(args, { from: 'user' });
  if (!got) throw new Error(`not a ${path.join(' ')} command: ${args.join(' ')}`);
  return got;
}

/**
 * Runs the `cluster init …` command `args` for real with its `--out` folder replaced by a temporary
 * one; returns the files it wrote by path relative to that folder.
 */
export async function clusterInitInto(args: string[], prefix: string): Promise<Record<string, string>> {
  const tmp = mkdtempSync(join(tmpdir(), prefix));
  try {
    const i = args.indexOf('--out');
    const program = buildProgram();
    program.configureOutput({ writeOut: () => undefined, writeErr: () => undefined, outputError: () => undefined });
    const write = process.stdout.write;
    process.stdout.write = (() => true) as typeof process.stdout.write;
    try {
      await program.parseAsync([...args.slice(0, i + 1), tmp, ...args.slice(i + 2)], { from: 'user' });
    } finally {
      process.stdout.write = write;
    }
    const files: Record<string, string> = {};
    for (const f of readdirSync(tmp, { recursive: true }) as string[]) if (statSync(join(tmp, f)).isFile()) files[f] = readFileSync(join(tmp, f), 'utf8');
    return files;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
