/**
 * The published JSON Schemas (schemas/): one config schema per scenario, covering its mechanisms,
 * and the schema of summary.json. They are generated from the TypeBox definitions that the CLI
 * validates with (scenarios/<id>/ `configSchema`, orchestrator/summarySchema.ts), so the files and
 * the checks cannot drift apart: `mecsim schemas --out schemas` (`npm run schemas`) writes them, and
 * a unit test fails when the committed files are not what it would write.
 *
 * The files are plain JSON Schema draft-07, readable by any validator (ajv, Python's jsonschema).
 */
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Type, type TObject, type TSchema } from '@sinclair/typebox';
import { scenarios } from '../scenarios/index.ts';
import { SCHEMA_VERSION } from '../scenarios/common/schema.ts';
import type { Scenario } from '../scenarios/types.ts';
import { writeAtomic } from './results.ts';
import { SUMMARY_SCHEMA } from './summarySchema.ts';

export const DRAFT = 'http://json-schema.org/draft-07/schema#';

/** a TypeBox schema as plain JSON (TypeBox's own markers are symbols, which JSON drops) */
const plain = (s: TSchema): Record<string, unknown> => JSON.parse(JSON.stringify(s));

/** One mechanism's config schema, with `mechanism` fixed to it (required unless it is the default, which a file may leave out). */
function forMechanism(scenario: Scenario, mechanism: string): TObject {
  const base = scenario.configSchema(mechanism);
  const isDefault = mechanism === scenario.defaultMechanism;
  const mech = Type.Literal(mechanism, { description: `"${mechanism}"${isDefault ? ' (the default: may be left out)' : ''}` });
  const properties = { ...base.properties, mechanism: isDefault ? Type.Optional(mech) : mech };
  return Type.Object(properties, { additionalProperties: false, title: `${scenario.id} · ${mechanism}` });
}

/**
 * The JSON Schema of a config file (`--config`, config.json, what `mecsim params` prints) of a
 * scenario: for one mechanism if given (`mechanism` fixed to it), else for all of them — one schema
 * where every mechanism has the same keys, else one branch per mechanism (`anyOf`, told apart by
 * `mechanism`).
 */
export function configJsonSchema(scenario: Scenario, mechanism?: string): Record<string, unknown> {
  const ids = scenario.mechanisms.map((m) => m.id);
  const shared = new Set(ids.map((m) => JSON.stringify(plain(scenario.configSchema(m))))).size === 1;
  const head = {
    $schema: DRAFT,
    title: `mecsim ${scenario.id}${mechanism ? ` · ${mechanism}` : ''} config (schemaVersion ${SCHEMA_VERSION})`,
    description: `Parameters of one ${scenario.id} run (${scenario.title}): the form \`mecsim params ${scenario.id}\` prints and \`--config\` reads; every key is optional (what a file leaves out is drawn from the run seed or defaulted). The model and units: docs/scenarios/${scenario.id}.md.`,
  };
  if (mechanism) {
    const { title: _t, ...body } = plain(forMechanism(scenario, mechanism));
    return { ...head, ...body };
  }
  if (shared) {
    const { description: _d, ...body } = plain(scenario.configSchema(ids[0]));
    return { ...head, ...body };
  }
  return { ...head, anyOf: ids.map((m) => plain(forMechanism(scenario, m))) };
}

export function summaryJsonSchema(): Record<string, unknown> {
  const { description, ...body } = plain(SUMMARY_SCHEMA);
  return { $schema: DRAFT, title: `mecsim summary.json (schemaVersion ${SCHEMA_VERSION})`, description, ...body };
}

/** Every published file: path under schemas/ → its text. */
export function schemaFiles(): Map<string, string> {
  const files = new Map<string, string>();
  const text = (o: unknown) => JSON.stringify(o, null, 2) + '\n';
  for (const s of Object.values(scenarios)) files.set(`config/${s.id}.schema.json`, text(configJsonSchema(s)));
  files.set('summary.schema.json', text(summaryJsonSchema()));
  return files;
}

/** Writes every schema file under `outDir` (and removes config schemas of scenarios that no longer exist); returns the paths written. */
export function writeSchemas(outDir: string): string[] {
  const files = schemaFiles();
  const written: string[] = [];
  for (const [rel, text] of files) {
    const path = join(outDir, rel);
    writeAtomic(path, text);
    written.push(path);
  }
  for (const f of readdirSync(join(outDir, 'config'))) if (f.endsWith('.schema.json') && !files.has(`config/${f}`)) rmSync(join(outDir, 'config', f));
  return written;
}
