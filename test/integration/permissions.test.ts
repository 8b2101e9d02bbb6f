/**
 * Per-role permissions on the private server a run starts: a user agent's credential cannot publish
 * a price or answer for another agent; the server refuses and logs it; the run is unaffected.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { describe, expect, it } from 'vitest';
import { encodeEnvelope } from '../../bus/codec.ts';
import { subjects } from '../../bus/subjects.ts';
import { runAuth } from '../../orchestrator/permissions.ts';
import { outDir, resolveCfg, runDistributed } from '../helpers/run.ts';

describe('per-role permissions (private server)', () => {
  it('generates one user per process, each confined to its own subjects under the run', () => {
    const agents = [{ id: 'mec-0', role: 'mec', index: 0 }, { id: 'ue-0', role: 'ue', index: 0 }, { id: 'ue-1', role: 'ue', index: 1 }] as never[];
    const a = runAuth('r1', 'mec-0', [{ id: 'leader', agents: [agents[0]] }, { id: 'w1', agents: [agents[1], agents[2]] }]);
    expect(Object.keys(a.hosts)).toEqual(['leader', 'w1']);
    const line = (u: string) => a.config.split('\n').find((l) => l.includes(`user: "${u}"`))!;
    const r1 = subjects('r1').base; // mecsim.<r1's token>
    expect(line('w1')).toContain(`"${r1}.rep.mec-0.ue.w1"`);
    expect(line('w1')).not.toContain(`${r1}.rep.mec-0.ue-`);
    expect(line('w1')).not.toContain(`${r1}.bc.>`);
    expect(line('leader')).toContain(`"${r1}.bc.>"`);
    for (const u of ['orchestrator', 'leader', 'w1']) expect(line(u).match(/"[^"]*"/g)!.filter((x) => x.startsWith('"mecsim.') && !x.startsWith(`"${r1}.`))).toEqual([]);
    expect(new Set([a.orchestrator.pass, a.hosts.leader.pass, a.hosts.w1.pass]).size).toBe(3);
  });

  it('a user agent’s credential publishing a price or another host’s reply is refused and logged, and another host’s agent’s reply on its own subject dropped; the run equals a clean run', async () => {
    const cfg = resolveCfg('stackelberg', { seed: 4, users: 6, slots: 2 });
    const clean = await runDistributed('stackelberg', cfg, 'packed:3', { natsUrl: undefined });
    const runId = `perm-${Date.now()}`;
    const s = subjects(runId);
    let intruder: NatsConnection | undefined;
    const errors: string[] = [];
    let attacked = false;
    const attacked$ = runDistributed('stackelberg', cfg, 'packed:3', {
      natsUrl: undefined,
      runId,
      onNatsReady: async ({ url, hosts }) => {
        // w1 hosts ue-0..ue-2: a legitimate user agent's credential
        intruder = await connect({ servers: url, user: hosts.w1.user, pass: hosts.w1.pass });
        void (async () => {
          for await (const st of intruder!.status()) if (st.type === 'error') errors.push(String((st as { error?: unknown }).error ?? st.type));
        })().catch(() => undefined);
      },
      onProgress: (p) => {
        if (p.phase !== 'slot' || attacked || !intruder) return;
        attacked = true;
        for (let i = 0; i < 5; i++) {
          intruder.publish(s.bcast('ue'), encodeEnvelope(runId, p.slot, 1, 'mec-0', 'price', { p: 1e6 })); // a forged price
          intruder.publish(s.reply('mec-0', 'ue', 'w2'), encodeEnvelope(runId, p.slot, 1, 'ue-4', 're:price', { x: 0, u: 0 })); // another host's reply subject
          intruder.publish(s.reply('mec-0', 'ue', 'w1'), encodeEnvelope(runId, p.slot, 1, 'ue-4', 're:price', { x: 0, u: 0 })); // its own, for another host's agent
          intruder.publish(s.ctlAll, encodeEnvelope(runId, 0, 0, 'orchestrator', 'shutdown', {})); // the orchestrator's control
        }
      },
    });
    const dirty = await attacked$;
    await intruder?.close();
    expect(attacked).toBe(true);
    expect(dirty.status).toBe('complete');
    expect(dirty.perSlot.map((r: any) => r.equilibrium)).toEqual(clean.perSlot.map((r: any) => r.equilibrium));
    expect(readFileSync(join(outDir, dirty.runId, 'trajectory.csv'), 'utf8')).toBe(readFileSync(join(outDir, clean.runId, 'trajectory.csv'), 'utf8'));
    // the server let through only the replies on w1's own subject, and the leader dropped them: ue-4 is on w2
    expect(dirty.runMetrics.drops).toEqual({ 'forged-sender': 5 });
    expect(errors.join('\n')).toMatch(/permissions violation/i);
    const serverLog = readFileSync(join(outDir, dirty.runId, 'nats-server.log'), 'utf8');
    expect(serverLog).toMatch(/violation/i);
    expect(serverLog).toContain(s.bcast('ue'));
    expect(dirty.nats.permissions).toBe('per-role users');
  });
});

describe('an external server that asks for credentials (--token, --user/--pass, --creds, --tls-*)', () => {
  it('over TLS with a token: the orchestrator connects with them and hands them to its agents; without the token the run fails saying so', async () => {
    const { execFileSync } = await import('node:child_process');
    const { mkdtempSync, writeFileSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { startNatsServer } = await import('../../orchestrator/natsServer.ts');
    // a throw-away CA and a server certificate for 127.0.0.1
    const d = mkdtempSync(join(tmpdir(), 'mecsim-tls-'));
    const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: d, stdio: 'pipe' });
    ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '1', '-subj', '/CN=mecsim-test-ca');
    ssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1');
    writeFileSync(join(d, 'san.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
    ssl('x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.pem', '-days', '1', '-extfile', 'san.ext');
    const token = 'tok-' + Math.random().toString(36).slice(2);
    const server = await startNatsServer({ extraConfig: `authorization { token: "${token}" }\ntls { cert_file: "${join(d, 'server.pem')}", key_file: "${join(d, 'server.key')}" }` });
    try {
      const cfg = resolveCfg('stackelberg', { seed: 2, users: 6, slots: 2 });
      const s = await runDistributed('stackelberg', cfg, 'packed:3', { natsUrl: server.url, natsAuth: { token, tlsCa: join(d, 'ca.pem') } });
      expect(s.status).toBe('complete');
      expect(s.ok).toBe(true);
      expect(s.runMetrics.processes.hosts).toHaveLength(3); // the spawned agents got in with the same token over TLS
      await expect(runDistributed('stackelberg', cfg, 'packed:3', { natsUrl: server.url, natsAuth: { tlsCa: join(d, 'ca.pem') } })).rejects.toThrow(/cannot connect to NATS.*(Authorization|authorization)/);
    } finally {
      await server.stop();
    }
  });
});
