import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { usableCores } from '../../bus/cores.ts';
import { canonicalJson, configSha256, gitState, provenance, provenanceHtml, provenanceLines, redactArgv } from '../../orchestrator/provenance.ts';

describe('provenance', () => {
  it('the config hash does not depend on key order or whitespace, and changes with any value', () => {
    const a = { scenario: 'x', users: [{ theta: 1, k: 2 }], server: { f: 1e9 } };
    const b = { server: { f: 1e9 }, users: [{ k: 2, theta: 1 }], scenario: 'x' };
    expect(canonicalJson(a)).toBe('{"scenario":"x","server":{"f":1000000000},"users":[{"k":2,"theta":1}]}');
    expect(configSha256(a)).toBe(configSha256(b));
    expect(configSha256(a)).toMatch(/^[0-9a-f]{64}$/);
    expect(configSha256({ ...a, users: [{ theta: 1, k: 2.000001 }] })).not.toBe(configSha256(a));
  });

  it('passwords, tokens and URL credentials never reach the summary', () => {
    expect(redactArgv(['run', 'x', '--pass', 's3cret', '--token=tok', '--user', 'me', '--nats', 'nats://me:pw@host:4222,tls://a:b@h2:1'])).toEqual(['run', 'x', '--pass', '***', '--token=***', '--user', 'me', '--nats', 'nats://***@host:4222,tls://***@h2:1']);
  });

  it('records the versions, the host and the command line', () => {
    const p = provenance({ scenario: 'ping' }, ['node', 'mecsim', 'run', 'ping']);
    expect(p.mecsim.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(p.node).toBe(process.version);
    expect(p.host.cpus).toBeGreaterThanOrEqual(1);
    expect(p.host.usableCores).toBe(usableCores());
    expect(p.host.usableCores).toBeGreaterThanOrEqual(1);
    expect(p.host.totalMemoryBytes).toBeGreaterThan(0);
    expect(p.command.argv).toEqual(['node', 'mecsim', 'run', 'ping']);
    expect(p.configSha256).toBe(configSha256({ scenario: 'ping' }));
  });

  it('git: the commit and dirtiness of a checkout; nothing (and no error) where there is none', () => {
    const plain = mkdtempSync(join(tmpdir(), 'mecsim-nogit-'));
    expect(gitState(plain)).toEqual({});
    const repo = mkdtempSync(join(tmpdir(), 'mecsim-git-'));
    const git = (...a: string[]) => execFileSync('git', ['-C', repo, '-c', 'user.name=t', '-c', 'user.email=t@t', ...a], { stdio: 'ignore' });
    try {
      git('init', '-q');
    } catch {
      return; // no git on this machine: the first case already showed that nothing fails
    }
    writeFileSync(join(repo, 'f'), '1');
    git('add', 'f');
    git('commit', '-qm', 'c');
    const head = execFileSync('git', ['-C', repo, 'rev-parse', 'HEAD'], { encoding: 'utf8' }).trim();
    expect(gitState(repo)).toEqual({ commit: head, dirty: false });
    writeFileSync(join(repo, 'untracked'), 'x'); // e.g. a run folder: not a change to mecsim
    expect(gitState(repo)).toEqual({ commit: head, dirty: false });
    writeFileSync(join(repo, 'f'), '2');
    expect(gitState(repo)).toEqual({ commit: head, dirty: true });
  });

  it('the console lines and the report block; nothing for a summary made before provenance was recorded', () => {
    expect(provenanceLines(undefined)).toEqual([]);
    expect(provenanceHtml(undefined)).toBe('');
    const p = provenance({ a: 1 }, ['node', 'mecsim', 'run', '<x>']);
    p.natsServer = { version: '2.10.0', owned: true };
    const lines = provenanceLines(p);
    expect(lines[0]).toMatch(/^mecsim \d+\.\d+\.\d+ · commit .* · Node v\d+.* · nats-server 2\.10\.0 \(private\)$/);
    expect(lines.join('\n')).toContain(`config sha256 ${p.configSha256}`);
    expect(provenanceHtml(p)).toContain('run &lt;x&gt;');
  });
});
