/**
 * deploy/kubernetes, checked without a Kubernetes cluster: every manifest against the Kubernetes API
 * schemas (kubernetes-models: the OpenAPI schemas of Kubernetes 1.27, compiled — types, required
 * fields, enums, formats; unknown fields are not refused), then what the schemas cannot see: the
 * manifests agree with each other (selectors, services, volumes, secrets, claims) and with what
 * `mecsim cluster init` writes for the hosts deploy/README.md gives it, and every mecsim command
 * parses with mecsim's own CLI and describes the same run.
 */
import { clusterInitInto, parseWith } from '../helpers/cli.ts';
import { partsFor } from '../../scenarios/contract.ts';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { AGENT_OPTIONS } from '../../agents/main.ts';
import { resolveInput } from '../../orchestrator/cli.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const DIR = join(ROOT, 'deploy/kubernetes');

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Obj = Record<string, any>;

const files = readdirSync(DIR).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml');
const docs: { file: string; doc: Obj }[] = files.flatMap((file) =>
  parseAllDocuments(readFileSync(join(DIR, file), 'utf8')).map((d) => {
    if (d.errors.length) throw new Error(`${file}: ${d.errors[0].message}`);
    return { file, doc: d.toJS() as Obj };
  }),
);
const byKind = (kind: string) => docs.filter((d) => d.doc.kind === kind).map((d) => d.doc);
const named = (kind: string, name: string) => byKind(kind).find((d) => d.metadata.name === name);

/** The Kubernetes model class for a manifest (kubernetes-models/<group>/<version>/<Kind>). */
async function modelOf(doc: Obj): Promise<new (d: Obj) => { validate(): void }> {
  const path = `kubernetes-models/${doc.apiVersion}/${doc.kind}`;
  const mod = (await import(path)) as Record<string, new (d: Obj) => { validate(): void }>;
  if (!mod[doc.kind]) throw new Error(`no model for ${doc.apiVersion} ${doc.kind}`);
  return mod[doc.kind];
}

async function validate(doc: Obj): Promise<void> {
  const Model = await modelOf(doc);
  new Model(structuredClone(doc)).validate();
}


/** The shell command in deploy/README.md that starts with `prefix` (backslash continuations joined). */
function readmeCommand(prefix: string): string[] {
  const text = readFileSync(join(ROOT, 'deploy/README.md'), 'utf8').replace(/\\\n\s*/g, ' ');
  const line = text.split('\n').find((l) => l.trim().startsWith(prefix));
  if (!line) throw new Error(`deploy/README.md has no "${prefix}" command`);
  return line.trim().split(/\s+/);
}

/** What `mecsim cluster init` writes with deploy/README.md's arguments (run for real into a temporary folder). */
async function initFiles(): Promise<{ args: string[]; files: Record<string, string> }> {
  const args = readmeCommand('mecsim cluster init').slice(1);
  return { args, files: await clusterInitInto(args, 'mecsim-k8s-cluster-') };
}

const podSpec = (w: Obj): Obj => w.spec.template.spec;
const workloads = () => [...byKind('Deployment'), ...byKind('StatefulSet'), ...byKind('Job')];
const subset = (a: Obj, b: Obj) => Object.entries(a).every(([k, v]) => b[k] === v);

describe('deploy/kubernetes', () => {
  it('every manifest is valid against the Kubernetes API schema of its kind', async () => {
    expect(docs.length).toBeGreaterThanOrEqual(9);
    for (const { file, doc } of docs) {
      try {
        await validate(doc);
      } catch (e) {
        throw new Error(`${file}: ${doc.kind} ${doc.metadata?.name}: ${(e as Error).message}`);
      }
    }
    const kinds = new Set(docs.map((d) => d.doc.kind));
    for (const k of ['Namespace', 'Service', 'StatefulSet', 'Job', 'Deployment', 'PersistentVolumeClaim']) expect(kinds, k).toContain(k);
  });

  it('the validator refuses what the API refuses (a count that is not an integer, a missing required field)', async () => {
    const sts = structuredClone(named('StatefulSet', 'mecsim-nats')!);
    sts.spec.replicas = '3';
    await expect(validate(sts)).rejects.toThrow(/replicas must be integer/);
    const job = structuredClone(named('Job', 'mecsim-orchestrator')!);
    delete job.spec.template;
    await expect(validate(job)).rejects.toThrow(/template/);
    const svc = structuredClone(named('Service', 'mecsim-nats')!);
    svc.spec.ports[0].port = 'four';
    await expect(validate(svc)).rejects.toThrow();
  });

  it('kustomization.yaml lists every manifest; everything is in the mecsim namespace', () => {
    const k = parseAllDocuments(readFileSync(join(DIR, 'kustomization.yaml'), 'utf8'))[0].toJS() as Obj;
    expect([...k.resources].sort()).toEqual([...files].sort());
    for (const { file, doc } of docs) if (doc.kind !== 'Namespace') expect(doc.metadata.namespace, `${file} ${doc.metadata.name}`).toBe('mecsim');
    expect(named('Namespace', 'mecsim')).toBeDefined();
  });

  it('workloads: selectors match their pods, every mount has a volume, every claim and service target exists, secrets are the two the README creates', () => {
    const createdSecrets = ['mecsim-nats-config', 'mecsim-creds'];
    for (const name of createdSecrets) expect(readmeCommand(`kubectl -n mecsim create secret generic ${name}`).length).toBeGreaterThan(0);
    for (const w of workloads()) {
      const spec = podSpec(w);
      const labels = w.spec.template.metadata.labels;
      if (w.kind !== 'Job') expect(subset(w.spec.selector.matchLabels, labels), `${w.metadata.name} selector`).toBe(true);
      const volumes = new Set([...(spec.volumes ?? []).map((v: Obj) => v.name), ...(w.spec.volumeClaimTemplates ?? []).map((v: Obj) => v.metadata.name)]);
      for (const c of spec.containers) for (const m of c.volumeMounts ?? []) expect(volumes, `${w.metadata.name}: volume ${m.name}`).toContain(m.name);
      for (const v of spec.volumes ?? []) {
        if (v.secret) expect(createdSecrets, `${w.metadata.name}: secret ${v.secret.secretName}`).toContain(v.secret.secretName);
        if (v.persistentVolumeClaim) expect(named('PersistentVolumeClaim', v.persistentVolumeClaim.claimName), v.persistentVolumeClaim.claimName).toBeDefined();
      }
    }
    const sts = named('StatefulSet', 'mecsim-nats')!;
    const natsPorts = new Set(podSpec(sts).containers[0].ports.map((p: Obj) => p.name));
    for (const svc of byKind('Service')) {
      expect(subset(svc.spec.selector, sts.spec.template.metadata.labels), svc.metadata.name).toBe(true);
      for (const p of svc.spec.ports) expect(natsPorts, `${svc.metadata.name}: ${p.targetPort}`).toContain(p.targetPort);
    }
    expect(named('Service', sts.spec.serviceName)?.spec.clusterIP).toBe('None');
    expect(named('Service', sts.spec.serviceName)?.spec.publishNotReadyAddresses).toBe(true);
  });

  it('NATS: 3 pods with JetStream on a PVC each, as the official chart; each pod reads the config cluster init wrote for it', async () => {
    const sts = named('StatefulSet', 'mecsim-nats')!;
    expect(sts.spec.replicas).toBe(3);
    expect(sts.spec.podManagementPolicy).toBe('Parallel');
    const c = podSpec(sts).containers[0];
    const { files } = await initFiles();
    const pods = [0, 1, 2].map((i) => `${sts.metadata.name}-${i}`);
    // `--config /etc/nats-config/$(POD_NAME).conf`, the Secret mounted there
    expect(c.args).toEqual(['--config', '/etc/nats-config/$(POD_NAME).conf']);
    expect(c.env.find((e: Obj) => e.name === 'POD_NAME').valueFrom.fieldRef.fieldPath).toBe('metadata.name');
    expect(c.volumeMounts.find((m: Obj) => m.mountPath === '/etc/nats-config').name).toBe('config');
    const port = (name: string) => c.ports.find((p: Obj) => p.name === name).containerPort;
    const jsMount = c.volumeMounts.find((m: Obj) => m.name === sts.spec.volumeClaimTemplates[0].metadata.name).mountPath;
    for (const pod of pods) {
      const conf = files[`${pod}.conf`];
      expect(conf, `${pod}.conf`).toBeDefined();
      expect(conf).toContain(`server_name: "${pod}"`);
      expect(conf).toContain(`listen: "0.0.0.0:${port('nats')}"`);
      expect(conf).toContain(`http: "0.0.0.0:${port('monitor')}"`);
      expect(conf).toContain(`jetstream { store_dir: "${jsMount}" }`);
      const routes = JSON.parse(/routes: (\[.*\])/.exec(conf)![1]) as string[];
      expect(routes.map((r) => r.replace(/\/\/[^@]*@/, '//')).sort()).toEqual(pods.filter((p) => p !== pod).map((p) => `nats-route://${p}.${sts.spec.serviceName}:${port('cluster')}`).sort());
      expect(conf).toMatch(/authorization \{ user: "route", password: "[^"]+" \}/);
    }
    expect(files['accounts.conf']).toContain('jetstream: enabled');
    // the chart's probes
    expect(c.readinessProbe.httpGet.path).toBe('/healthz?js-server-only=true');
    expect(c.livenessProbe.httpGet.path).toBe('/healthz?js-enabled-only=true');
    // a Secret holds at most 1 MiB
    const size = Object.entries(files).filter(([f]) => !f.includes('/')).reduce((s, [, t]) => s + t.length, 0);
    expect(size).toBeLessThan(1024 * 1024);
  });

  it('the orchestrator Job and the agent Deployments parse with mecsim’s CLI and describe the run cluster init was given; each role has its own credential and enough replicas', async () => {
    const { args: initArgs, files } = await initFiles();
    const init = await parseWith(['cluster', 'init'], initArgs);
    const job = named('Job', 'mecsim-orchestrator')!;
    expect(job.spec.backoffLimit).toBe(0);
    const oc = podSpec(job).containers[0];
    const credsMount = (c: Obj) => c.volumeMounts.find((m: Obj) => m.name === 'creds').mountPath;
    expect(oc.command).toEqual(['node', `--env-file=${credsMount(oc)}/orchestrator.env`, 'bin/mecsim.js']);
    expect(files['creds/orchestrator.env']).toBeDefined();
    const run = await parseWith(['run'], oc.args);
    expect(run.opts.agents).toBe('external');
    expect(run.scenarioId).toBe(init.scenarioId);
    expect([run.opts.runId]).toEqual(init.opts.runId);
    expect(run.opts.users).toBe(init.opts.users);
    expect(run.opts.nats).toBe(`nats://${named('Service', 'mecsim-nats')!.metadata.name}:4222`);
    expect(oc.volumeMounts.find((m: Obj) => m.mountPath === run.opts.out)?.name).toBe('results');
    const { scenario, cfg } = resolveInput(run.scenarioId, run.opts as Parameters<typeof resolveInput>[1]);
    const need = new Map<string, number>();
    for (const a of partsFor(scenario, cfg).agents(cfg)) need.set(a.role, (need.get(a.role) ?? 0) + 1);
    const deployments = byKind('Deployment');
    expect(deployments.map((d) => d.metadata.name).sort()).toEqual(['mecsim-broker', 'mecsim-cloud', 'mecsim-mec', 'mecsim-ue']);
    for (const d of deployments) {
      const c = podSpec(d).containers[0];
      expect(c.args[0]).toBe('agent');
      const { values } = parseArgs({ args: c.args.slice(1), options: AGENT_OPTIONS, strict: true, allowPositionals: false });
      const role = String(values.role);
      expect(d.metadata.name).toBe(`mecsim-${role}`);
      expect(values.join).toBe(true);
      expect(values.run).toBe(run.opts.runId);
      expect(values.nats).toBe(run.opts.nats);
      expect(c.command).toEqual(['node', `--env-file=${credsMount(c)}/${role}.env`, 'bin/mecsim.js']);
      expect(files[`creds/${role}.env`], role).toBeDefined();
      const started = d.spec.replicas * Number(values.count ?? 1);
      expect(started, `${role}: replicas for the run's ${need.get(role) ?? 0}`).toBeGreaterThanOrEqual(need.get(role) ?? 0);
    }
  });
});
