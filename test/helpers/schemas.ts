/**
 * Validation of a run's files against the published JSON Schemas (schemas/), with a standard
 * draft-07 validator (ajv) reading the JSON files themselves — what a user of another language does.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv, type ValidateFunction } from 'ajv';

const SCHEMAS = fileURLToPath(new URL('../../schemas/', import.meta.url));
const ajv = new Ajv({ allErrors: true, strict: true });
const compiled = new Map<string, ValidateFunction>();

/** the published schema at `rel` (e.g. `summary.schema.json`), compiled once */
export function publishedSchema(rel: string): ValidateFunction {
  const known = compiled.get(rel);
  if (known) return known;
  const v = ajv.compile(JSON.parse(readFileSync(join(SCHEMAS, rel), 'utf8')));
  compiled.set(rel, v);
  return v;
}

/** Every way the run folder's config.json and summary.json break the published schemas; empty when they validate. */
export function runFileErrors(runDir: string): string[] {
  const errors: string[] = [];
  const read = (f: string) => JSON.parse(readFileSync(join(runDir, f), 'utf8'));
  const summary = read('summary.json');
  const config = read('config.json');
  for (const [file, rel, value] of [
    ['summary.json', 'summary.schema.json', summary],
    ['config.json', `config/${String(config.scenario)}.schema.json`, config],
  ] as const) {
    const v = publishedSchema(rel);
    if (!v(value)) errors.push(`${join(runDir, file)} does not validate against schemas/${rel}: ${ajv.errorsText(v.errors)}`);
  }
  return errors;
}
