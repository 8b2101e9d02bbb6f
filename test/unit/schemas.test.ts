/**
 * The published JSON Schemas (schemas/) are current, standard (a draft-07 validator other than the
 * TypeBox compiler the CLI uses reads them), and say the same as the CLI's checks: every config
 * `mecsim params` prints validates; a wrong type, an unknown key or a foreign mechanism's key does not.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv } from 'ajv';
import { describe, expect, it } from 'vitest';
import { schemaFiles } from '../../orchestrator/schemas.ts';
import { scenarios } from '../../scenarios/index.ts';
import { checkConfig, SCHEMA_VERSION, stampConfig } from '../../scenarios/common/schema.ts';
import type { JsonObject } from '../../scenarios/types.ts';
import { resolveInput } from '../../orchestrator/cli.ts';

const SCHEMAS = fileURLToPath(new URL('../../schemas/', import.meta.url));
const EXAMPLES = fileURLToPath(new URL('../../examples/', import.meta.url));
const ajv = new Ajv({ allErrors: true, strict: true });
const published = (rel: string) => ajv.compile(JSON.parse(readFileSync(join(SCHEMAS, rel), 'utf8')));
const paramsOf = (id: string, mechanism: string, seed = 1): JsonObject => stampConfig(scenarios[id].resolve({ mechanism, seed, slots: 1, options: {} }));

describe('published schemas', () => {
  it('the committed files are what `npm run schemas` writes now (run it after changing a schema)', () => {
    const files = schemaFiles();
    const committed = [...readdirSync(join(SCHEMAS, 'config')).map((f) => `config/${f}`), ...readdirSync(SCHEMAS).filter((f) => f.endsWith('.json'))].filter((f) => f.endsWith('.schema.json')).sort();
    expect(committed).toEqual([...files.keys()].sort());
    for (const [rel, text] of files) expect(readFileSync(join(SCHEMAS, rel), 'utf8'), `schemas/${rel} is stale: run npm run schemas`).toBe(text);
  });

  it('are draft-07 JSON Schema with a title and the schema version', () => {
    for (const [rel, text] of schemaFiles()) {
      const s = JSON.parse(text);
      expect(s.$schema, rel).toBe('http://json-schema.org/draft-07/schema#');
      expect(s.title, rel).toContain(`schemaVersion ${SCHEMA_VERSION}`);
      expect(ajv.validateSchema(s), rel).toBe(true);
    }
  });

  for (const s of Object.values(scenarios)) {
    describe(s.id, () => {
      const validate = published(`config/${s.id}.schema.json`);
      it.each(s.mechanisms.map((m) => m.id))('what `mecsim params -m %s` prints validates, with the published schema and the CLI check', (m) => {
        for (const seed of [1, 7]) {
          const cfg = paramsOf(s.id, m, seed);
          expect(cfg.schemaVersion).toBe(SCHEMA_VERSION);
          expect(validate(cfg), JSON.stringify(validate.errors)).toBe(true);
          expect(() => checkConfig(s.configSchema(m), cfg)).not.toThrow();
        }
      });

      it('refuses what the CLI refuses: a string for a number, an unknown key, another schema version', () => {
        const m = s.defaultMechanism;
        const cfg = paramsOf(s.id, m);
        for (const bad of [{ ...cfg, slots: '3' }, { ...cfg, colour: 'red' }, { ...cfg, schemaVersion: SCHEMA_VERSION + 1 }, { ...cfg, scenario: 'other' }]) {
          expect(validate(bad), JSON.stringify(bad).slice(0, 80)).toBe(false);
          expect(() => checkConfig(s.configSchema(m), bad as JsonObject)).toThrow();
        }
      });
    });
  }

  it('offload-energy: each mechanism has its own keys; a file without `mechanism` is the default’s', () => {
    const validate = published('config/offload-energy.schema.json');
    const pricing = paramsOf('offload-energy', 'pricing');
    expect(validate(pricing)).toBe(true);
    const { mechanism: _m, ...noMechanism } = pricing;
    expect(validate(noMechanism)).toBe(false); // pricing's keys under the default (nash)
    const { mechanism: _n, ...nash } = paramsOf('offload-energy', 'nash');
    expect(validate(nash)).toBe(true);
  });

  const examples = readdirSync(EXAMPLES).filter((f) => f.endsWith('.json'));
  it.each(examples)('examples/%s validates against its published schema and resolves as a --config file', (f) => {
    const path = join(EXAMPLES, f);
    const cfg = JSON.parse(readFileSync(path, 'utf8'));
    const validate = published(`config/${cfg.scenario}.schema.json`);
    expect(validate(cfg), JSON.stringify(validate.errors)).toBe(true);
    expect(cfg.$schema).toBe(`../schemas/config/${cfg.scenario}.schema.json`);
    expect(() => resolveInput(cfg.scenario, { config: path })).not.toThrow();
  });

  describe('summary.json', () => {
    const validate = published('summary.schema.json');
    const core = { schemaVersion: SCHEMA_VERSION, status: 'failed', runId: 'r1', scenario: 'ping', mechanism: 'echo', seed: 1, startedAt: '2026-12-02T09:00:00.000Z', error: 'disk full', truncated: 'the disk was full' };
    it('a summary cut to its core fields on a full disk still validates', () => {
      expect(validate(core), JSON.stringify(validate.errors)).toBe(true);
    });
    it('a summary without schemaVersion, with an unknown status or a malformed provenance does not', () => {
      const { schemaVersion: _v, ...old } = core;
      expect(validate(old)).toBe(false);
      expect(validate({ ...core, status: 'done' })).toBe(false);
      expect(validate({ ...core, provenance: { mecsim: { version: '0.1.0' }, node: 'v20', natsServer: { version: null }, host: { cpus: 2, totalMemoryBytes: 1 }, command: { argv: [] }, configSha256: 'abc' } })).toBe(false);
    });
  });

  // the point of publishing JSON Schema: another language reads the same files (skipped where Python's jsonschema is missing)
  const python = spawnSync('python3', ['-c', 'import jsonschema'], { stdio: 'ignore' }).status === 0;
  it.skipIf(!python)('Python’s jsonschema (Draft 7) accepts every config `mecsim params` prints and refuses a wrong type', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mecsim-pyschema-'));
    const cases: [string, string, boolean][] = [];
    for (const s of Object.values(scenarios))
      for (const m of s.mechanisms) {
        const f = join(dir, `${s.id}-${m.id}.json`);
        writeFileSync(f, JSON.stringify(paramsOf(s.id, m.id)));
        cases.push([join(SCHEMAS, 'config', `${s.id}.schema.json`), f, true]);
      }
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, JSON.stringify({ ...paramsOf('stackelberg', 'gsrp-step'), slots: '3' }));
    cases.push([join(SCHEMAS, 'config', 'stackelberg.schema.json'), bad, false]);
    const script = `import json, sys, jsonschema
for schema, doc, want in json.load(sys.stdin):
    s = json.load(open(schema))
    jsonschema.Draft7Validator.check_schema(s)
    ok = jsonschema.Draft7Validator(s).is_valid(json.load(open(doc)))
    print(doc, ok)
    assert ok == want, doc`;
    const r = spawnSync('python3', ['-c', script], { input: JSON.stringify(cases), encoding: 'utf8' });
    expect(r.status, r.stderr + r.stdout).toBe(0);
  });
});
