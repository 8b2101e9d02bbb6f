/**
 * Puts a users sweep's scale figure where the README shows it: copies `scale.svg`, `scale.csv`,
 * `summary.csv` and `command.txt` (the command that made them) from a sweep folder into
 * docs/figures/scale/.
 *
 *   npm run scale-figure [-- <sweep-folder>] [--to docs/figures/scale] [--redraw]
 *
 * Without a folder: the newest `sweep-*-users-*` folder under runs/ that has a scale.svg.
 * `--redraw` draws scale.svg and scale.csv again from the folder's summary.csv (after a change to
 * the figure's layout, without running the sweep again) instead of copying them.
 */
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { parseCsv, renderSvg } from '../orchestrator/report.ts';
import { toCsv } from '../orchestrator/results.ts';
import { scaleCsvRows, scalePoints, scaleSpec } from '../orchestrator/scale.ts';

const FOLDER = /^sweep-(.+)-users-\d{8}-\d{6}(?:-\d+)?$/;

/** The newest users sweep under `root` with a scale figure (folder names sort by their UTC stamp). */
function newestSweep(root: string): string | undefined {
  if (!existsSync(root)) return undefined;
  const stamp = (n: string) => /-(\d{8}-\d{6})(?:-(\d+))?$/.exec(n)!;
  return readdirSync(root)
    .filter((n) => FOLDER.test(n) && existsSync(join(root, n, 'scale.svg')))
    .sort((a, b) => stamp(a)[1].localeCompare(stamp(b)[1]) || Number(stamp(a)[2] ?? 1) - Number(stamp(b)[2] ?? 1))
    .map((n) => join(root, n))
    .pop();
}

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { to: { type: 'string', default: 'docs/figures/scale' }, redraw: { type: 'boolean', default: false } } });
  const from = positionals[0] ? resolve(positionals[0]) : newestSweep(resolve('runs'));
  if (!from || !existsSync(join(from, 'summary.csv'))) {
    process.stderr.write(`scale-figure: ${from ? `${from} has no summary.csv` : 'no users sweep with a scale.svg under runs/'}; run e.g. mecsim sweep <scenario> --users 10,100,1000 first, or name its folder\n`);
    return 2;
  }
  const to = resolve(values.to!);
  mkdirSync(to, { recursive: true });
  if (values.redraw) {
    const scenario = FOLDER.exec(basename(from))?.[1] ?? 'sweep';
    const points = scalePoints(parseCsv(readFileSync(join(from, 'summary.csv'), 'utf8')));
    const spec = scaleSpec(scenario, points);
    if (!spec) {
      process.stderr.write(`scale-figure: ${from}/summary.csv has nothing to draw against N\n`);
      return 1;
    }
    writeFileSync(join(to, 'scale.svg'), await renderSvg(spec));
    writeFileSync(join(to, 'scale.csv'), toCsv(scaleCsvRows(points) as never));
  } else for (const f of ['scale.svg', 'scale.csv']) copyFileSync(join(from, f), join(to, f));
  copyFileSync(join(from, 'summary.csv'), join(to, 'summary.csv'));
  if (existsSync(join(from, 'command.txt'))) copyFileSync(join(from, 'command.txt'), join(to, 'command.txt'));
  process.stdout.write(`${join(to, 'scale.svg')} (from ${from}${values.redraw ? ', redrawn from its summary.csv' : ''})\n`);
  return 0;
}

main().then(
  (code) => (process.exitCode = code),
  (e) => {
    process.stderr.write(`scale-figure: ${(e as Error).message}\n`);
    process.exitCode = 1;
  },
);
