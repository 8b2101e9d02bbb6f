/** The shared parameter checks every scenario resolves its input with (scenarios/common/schema.ts). */
import { describe, expect, it } from 'vitest';
import { boolParam, countList, MAX_AGENTS, mechanismWithAlias, objectParam, oneOf, seedParam, slotsParam, userCount } from '../../scenarios/common/schema.ts';
import { ConfigError, type RunInput } from '../../scenarios/types.ts';

/** the ConfigError `f` throws (its flag names the key) */
function refusal(f: () => unknown): ConfigError {
  try {
    f();
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  throw new Error('accepted');
}

const input = (x: Partial<RunInput>): RunInput => ({ seed: 1, slots: 1, options: {}, ...x });
const ORDERS = ['sequential', 'simultaneous'] as const;

describe('shared parameter checks', () => {
  it('oneOf: undefined or null is "not given"; anything else must be listed, and the error names the key', () => {
    expect(oneOf('grant', undefined, ['one', 'all'])).toBeUndefined();
    expect(oneOf('grant', null, ['one', 'all'])).toBeUndefined();
    expect(oneOf('grant', 'all', ['one', 'all'])).toBe('all');
    const e = refusal(() => oneOf('grant', 'some', ['one', 'all']));
    expect(e.flag).toBe('grant');
    expect(e.message).toBe('grant: must be one of one, all, not "some"');
    expect(refusal(() => oneOf('grant', 1, ['one', 'all'])).flag).toBe('grant');
  });

  it('boolParam reads a flag string or a config boolean', () => {
    expect([boolParam('claims', 'false', true), boolParam('claims', '1', false), boolParam('claims', undefined, true), boolParam('claims', false, true)]).toEqual([false, true, true, false]);
    expect(refusal(() => boolParam('claims', 'yes', true)).flag).toBe('claims');
  });

  it('objectParam refuses a list, null or a scalar, naming the key and the shape', () => {
    expect(objectParam('server', { f: 1 })).toEqual({ f: 1 });
    for (const bad of [null, [], 3, 'x']) expect(refusal(() => objectParam('mecs[2]', bad, '{C, lambda, D}')).message).toBe('mecs[2]: must be an object {C, lambda, D}');
  });

  it('seed and slots: integers, slots at least 1', () => {
    expect([seedParam(7), seedParam(-3), slotsParam(4)]).toEqual([7, -3, 4]);
    for (const bad of [1.5, NaN, Number.MAX_SAFE_INTEGER + 2]) expect(refusal(() => seedParam(bad)).flag).toBe('--seed');
    for (const bad of [0, 2.5, -1]) expect(refusal(() => slotsParam(bad)).flag).toBe('--slots');
  });

  it('userCount: the config list wins and --users must agree with it; else --users or the default, bounded', () => {
    expect(userCount(undefined, [{}, {}], 5)).toEqual({ list: [{}, {}], n: 2 });
    expect(userCount(2, [{}, {}], 5).n).toBe(2);
    expect(userCount(undefined, undefined, 5)).toEqual({ list: undefined, n: 5 });
    expect(userCount(9, undefined, 5).n).toBe(9);
    expect(refusal(() => userCount(3, [{}, {}], 5)).flag).toBe('--users');
    expect(refusal(() => userCount(undefined, [], 5)).flag).toBe('users');
    expect(refusal(() => userCount(MAX_AGENTS + 1, undefined, 5)).flag).toBe('--users');
  });

  it('mechanismWithAlias: a typed --mechanism, then the alias flag, then the config, then the default; contradictions refused', () => {
    const pick = (x: Partial<RunInput>) => mechanismWithAlias(input(x), ORDERS, { flag: 'order', key: 'order' }, 'sequential');
    expect(pick({})).toBe('sequential');
    expect(pick({ options: { order: 'simultaneous' } })).toBe('simultaneous');
    expect(pick({ config: { order: 'simultaneous' } })).toBe('simultaneous');
    // the CLI passes the config's mechanism as input.mechanism: then the alias flag may override it
    expect(pick({ mechanism: 'simultaneous', config: { mechanism: 'simultaneous' }, options: { order: 'sequential' } })).toBe('sequential');
    // a --mechanism typed on the command line must not contradict the alias flag
    expect(refusal(() => pick({ mechanism: 'sequential', options: { order: 'simultaneous' } })).flag).toBe('--order');
    expect(pick({ mechanism: 'simultaneous', config: { mechanism: 'sequential' } })).toBe('simultaneous');
    expect(refusal(() => pick({ config: { mechanism: 'sequential', order: 'simultaneous' } })).flag).toBe('order');
    expect(refusal(() => pick({ options: { order: 'random' } })).flag).toBe('--order');
  });
});

describe('countList: a flag’s list of agent counts (sweep --users, bench --sizes)', () => {
  it('takes positive decimal integers up to MAX_AGENTS, spaces around each allowed', () => {
    expect(countList('--sizes', '10, 100,1000')).toEqual([10, 100, 1000]);
    expect(countList('--users', String(MAX_AGENTS))).toEqual([MAX_AGENTS]);
  });
  it.each(['0', '-5', 'abc', '10,,20', '', '1e3', '2.5', '0x10'])('refuses %j, naming the flag', (text) => {
    expect(() => countList('--sizes', text)).toThrow(`--sizes must be a comma-separated list of positive integers, not "${text}"`);
  });
  it('refuses a count above MAX_AGENTS, saying what to do instead', () => {
    expect(() => countList('--users', `10,${MAX_AGENTS + 1}`)).toThrow(new RegExp(`^--users: ${MAX_AGENTS + 1} is more than ${MAX_AGENTS} \\(a run holds every agent's parameters in memory; for a scaling study use`));
  });
});
