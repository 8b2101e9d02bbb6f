/**
 * The documentation a user who clones the repository gets: every scenario's model is in docs/, its
 * source paper is cited (in `mecsim list` and the README) with a DOI only in the form DOIs take, and
 * nothing sends the reader outside the repository. "Seed" means only the random seed.
 */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { scenarios } from '../../scenarios/index.ts';
import { cite } from '../../scenarios/common/paper.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const README = readFileSync(`${ROOT}README.md`, 'utf8');
const withPaper = Object.values(scenarios).filter((s) => s.id !== 'ping');

describe('docs and citations', () => {
  it.each(withPaper.map((s) => s.id))('%s: its model is in the repository and its paper is cited', (id) => {
    const s = scenarios[id];
    expect(s.spec).toBe(`docs/scenarios/${id}.md`);
    expect(existsSync(`${ROOT}${s.spec}`)).toBe(true);
    const doc = readFileSync(`${ROOT}${s.spec}`, 'utf8');
    expect(doc).toMatch(/## Where this model departs from the paper, and why/);
    const p = s.paper!;
    expect(p.title.length).toBeGreaterThan(10);
    if (p.doi !== undefined) {
      expect(p.doi).toMatch(/^10\.\d{4,9}\/\S+$/);
      expect(doc).toContain(p.doi);
      expect(README).toContain(p.doi);
    }
    // a citation without authors or venue must say why
    if (!p.authors || !p.venue) expect(p.note).toMatch(/not (known|in)|no /);
    expect(cite(p)).toContain(p.title);
    expect(README).toContain(`| \`${id}\` | [docs/scenarios/${id}.md](docs/scenarios/${id}.md) |`);
  });

  it('the README and the docs send no reader outside the repository', () => {
    for (const f of ['README.md', 'docs/design.md', ...withPaper.map((s) => s.spec), 'docs/scenarios/README.md']) {
      const text = readFileSync(`${ROOT}${f}`, 'utf8');
      expect(text, f).not.toMatch(/\.\.\/shared|shared\/(spec|seeds)/);
    }
    expect(README).toMatch(/^## Sources$/m);
  });

  it('user-facing text says "the paper", keeping "seed" for the random seed', () => {
    const texts = Object.values(scenarios).flatMap((s) => [s.title, ...s.mechanisms.map((m) => m.summary), ...s.options.map((o) => o.description)]);
    for (const t of [...texts, README]) expect(t).not.toMatch(/\bthe seed['’]s\b/);
  });
});
