/**
 * JSON text written in pieces: the same characters as `JSON.stringify(value, null, 2)`, handed to a
 * sink a value at a time instead of built as one string. A run's summary at 100,000 agents is about
 * 60 MB of such text; built whole, it and its copy as bytes took the orchestrator's memory about
 * 150 MB over everything the run itself needed.
 *
 * What JSON.stringify does is done here too: `toJSON` is called (with the property name or array
 * index as its argument), a property whose value is undefined, a function or a symbol is left out
 * (null in an array), a number that is not finite is null, -0 is 0, a cycle throws a TypeError, and a
 * BigInt throws as JSON.stringify throws for it.
 */

const INDENT = '  ';

/** numbers of an array written in one piece */
const NUMBERS_AT_ONCE = 256;

/** the value after its toJSON, as JSON.stringify sees it under `key` (an array index: its string, made only if asked) */
function resolve(value: unknown, key: string | number): unknown {
  if (value !== null && (typeof value === 'object' || typeof value === 'bigint') && typeof (value as { toJSON?: unknown }).toJSON === 'function') {
    return (value as { toJSON(key: string): unknown }).toJSON(String(key));
  }
  return value;
}

/** whether JSON.stringify leaves a property of this (resolved) value out */
const omitted = (v: unknown) => v === undefined || typeof v === 'function' || typeof v === 'symbol';

/**
 * `value` under `key` as JSON.parse(JSON.stringify(…)) would give it back, one level deep: a
 * primitive as read back (a number that is not finite is null, -0 is 0, a boxed one unboxed), an
 * object or array as it is (its contents not yet looked at), undefined where JSON leaves it out.
 * Throws where JSON.stringify throws (a BigInt).
 */
export function jsonForm(value: unknown, key: string | number): unknown {
  const v = resolve(value, key);
  switch (typeof v) {
    case 'number':
      return Number.isFinite(v) ? v + 0 : null; // + 0: -0 is 0, as in the text
    case 'string':
    case 'boolean':
      return v;
    case 'object':
      if (v instanceof Number || v instanceof String || v instanceof Boolean) return JSON.parse(JSON.stringify(v));
      return v;
    case 'bigint':
      return JSON.stringify(v); // throws, as JSON.stringify does
    default:
      return undefined;
  }
}

type Sink = (text: string) => void;

/** What JsonText and JsonCopy share: the containers open on the way down, so a cycle throws as in JSON.stringify. */
abstract class JsonWalk {
  private readonly open = new Set<object>();

  protected enter(o: object): void {
    if (this.open.has(o)) throw new TypeError('Converting circular structure to JSON');
    this.open.add(o);
  }

  protected leave(o: object): void {
    this.open.delete(o);
  }
}

export class JsonText extends JsonWalk {
  private readonly indents: string[] = ['\n'];

  constructor(private readonly sink: Sink) {
    super();
  }

  /** Writes `value` as JSON.stringify(value, null, 2) does; false (nothing written) where that returns undefined. */
  write(value: unknown): boolean {
    return this.value(resolve(value, ''), 0);
  }

  /** Writes one resolved value at nesting `depth`; false if it has no JSON form (undefined, a function, a symbol). */
  private value(v: unknown, depth: number): boolean {
    switch (typeof v) {
      case 'number':
        this.sink(Number.isFinite(v) ? String(v) : 'null');
        return true;
      case 'string':
      case 'boolean':
        this.sink(JSON.stringify(v));
        return true;
      case 'object':
        if (v === null) this.sink('null');
        else if (Array.isArray(v)) this.array(v, depth);
        else if (v instanceof Number || v instanceof String || v instanceof Boolean) this.sink(JSON.stringify(v));
        else this.object(v as Record<string, unknown>, depth);
        return true;
      case 'bigint':
        this.sink(JSON.stringify(v)); // throws, as JSON.stringify does
        return true;
      default:
        return false;
    }
  }

  private array(a: unknown[], depth: number): void {
    if (a.length === 0) return this.sink('[]');
    if (a.every((x) => typeof x === 'number')) return this.numbers(a as number[], depth);
    this.enter(a);
    const inner = this.newline(depth + 1);
    for (let i = 0; i < a.length; i++) {
      this.sink(i === 0 ? '[' : ',');
      this.sink(inner);
      if (!this.value(resolve(a[i], i), depth + 1)) this.sink('null');
    }
    this.sink(this.newline(depth));
    this.sink(']');
    this.leave(a);
  }

  /**
   * An array of numbers, a few hundred at a time: JSON.stringify writes their digits into one string
   * (the only commas in it are the separators), where a string per number (String(x)) would go
   * through V8's number-to-string cache and outlive the young generation.
   */
  private numbers(a: number[], depth: number): void {
    const inner = this.newline(depth + 1);
    const sep = `,${inner}`;
    for (let i = 0; i < a.length; i += NUMBERS_AT_ONCE) {
      const text = JSON.stringify(a.slice(i, i + NUMBERS_AT_ONCE));
      this.sink(i === 0 ? '[' : ',');
      this.sink(inner);
      this.sink(text.slice(1, -1).replaceAll(',', sep));
    }
    this.sink(this.newline(depth));
    this.sink(']');
  }

  private object(o: Record<string, unknown>, depth: number): void {
    this.enter(o);
    const inner = this.newline(depth + 1);
    let first = true;
    for (const key of Object.keys(o)) {
      const v = resolve(o[key], key);
      if (omitted(v)) continue;
      this.sink(first ? '{' : ',');
      this.sink(inner);
      this.sink(JSON.stringify(key));
      this.sink(': ');
      this.value(v, depth + 1);
      first = false;
    }
    if (first) this.sink('{}');
    else {
      this.sink(this.newline(depth));
      this.sink('}');
    }
    this.leave(o);
  }

  /** a line break and the indentation of `depth` */
  private newline(depth: number): string {
    while (this.indents.length <= depth) this.indents.push(this.indents[this.indents.length - 1] + INDENT);
    return this.indents[depth];
  }
}

/**
 * What JSON.parse(JSON.stringify(value)) returns, made without the text: the same rules as JsonText.
 * The report of a run that just ended is drawn from this copy of its summary rather than from
 * summary.json read back (at 100,000 agents, 60 MB of text and its parse), and it reads the same.
 */
export function jsonCopy(value: unknown): unknown {
  return new JsonCopy().copy(value, '');
}

class JsonCopy extends JsonWalk {
  /** containers already copied: one met again (the summary's slot-0 outcome is also its top level) is not copied twice */
  private readonly made = new Map<object, unknown>();

  /** the copy of `value` under `key` */
  copy(value: unknown, key: string | number): unknown {
    const v = jsonForm(value, key);
    return v !== null && typeof v === 'object' ? this.container(v) : v;
  }

  private container(v: object): unknown {
    const made = this.made.get(v);
    if (made !== undefined) return made; // copied whole already, so not open: not a cycle
    const copy = Array.isArray(v) ? this.array(v) : this.object(v as Record<string, unknown>);
    this.made.set(v, copy);
    return copy;
  }

  private array(a: unknown[]): unknown[] {
    this.enter(a);
    const out = new Array<unknown>(a.length);
    for (let i = 0; i < a.length; i++) out[i] = this.copy(a[i], i) ?? null;
    this.leave(a);
    return out;
  }

  private object(o: Record<string, unknown>): Record<string, unknown> {
    this.enter(o);
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(o)) {
      const v = this.copy(o[key], key);
      if (v === undefined) continue;
      // a key "__proto__" is an own property in what JSON.parse makes, not the prototype
      if (key === '__proto__') Object.defineProperty(out, key, { value: v, writable: true, enumerable: true, configurable: true });
      else out[key] = v;
    }
    this.leave(o);
    return out;
  }
}
