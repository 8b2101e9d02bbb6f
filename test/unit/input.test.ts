/** Bad input is refused with the key or flag named: config schemas, server URLs, agent index lists. */
import { describe, expect, it } from 'vitest';
import { scenarios } from '../../scenarios/index.ts';
import { checkConfig, MAX_AGENTS, param } from '../../scenarios/common/schema.ts';
import { ConfigError, type JsonObject } from '../../scenarios/types.ts';
import { parseServers } from '../../bus/connection.ts';
import { parseIndexList } from '../../agents/main.ts';

const schemaOf = (id: string, mechanism?: string) => scenarios[id].configSchema(mechanism ?? scenarios[id].defaultMechanism);

function refusal(id: string, config: unknown, mechanism?: string): ConfigError {
  try {
    checkConfig(schemaOf(id, mechanism), config as JsonObject);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return e as ConfigError;
  }
  throw new Error(`${JSON.stringify(config)} was accepted`);
}

describe('config schemas', () => {
  it('accept what `mecsim params` prints, for every scenario and mechanism', () => {
    for (const s of Object.values(scenarios))
      for (const m of s.mechanisms) {
        const options = s.id === 'wholesale-buyback' ? { mecs: 3 } : s.id === 'futures-spot' || s.id === 'budget-nash' ? { mecs: 2 } : {};
        const cfg = s.resolve({ seed: 5, slots: 2, mechanism: m.id, users: s.id === 'wholesale-buyback' ? undefined : 3, options });
        expect(() => checkConfig(s.configSchema(m.id), JSON.parse(JSON.stringify(cfg))), `${s.id} ${m.id}`).not.toThrow();
      }
  });

  it.each([
    ['stackelberg', { slots: '3' }, 'slots', /must be an integer in \[1, 1000000\], not "3"/],
    ['stackelberg', { seed: '42' }, 'seed', /must be an integer/],
    ['stackelberg', { seed: 1.5 }, 'seed', /must be an integer/],
    ['stackelberg', { frobnicate: 1 }, 'frobnicate', /unknown key \(known here: \$schema, schemaVersion, scenario, mechanism, seed, slots, link, server, users\)/],
    ['stackelberg', { server: { fq: 1 } }, 'server.fq', /unknown key \(known here: f, m, X/],
    ['stackelberg', { server: { f: '4e9' } }, 'server.f', /must be a positive CPU frequency in Hz, not "4e9"/],
    ['stackelberg', { users: [{ theta: 1, s: 1, c: 1, r: 1, tmax: 1 }, { theta: 1, s: 1, c: 1, r: 1, tmax: '2' }] }, 'users[1].tmax', /must be a positive deadline/],
    ['stackelberg', { users: [{ theta: 1, s: 1, c: 1, r: 1 }] }, 'users[0].tmax', /missing/],
    ['stackelberg', { mechanism: 42 }, 'mechanism', /one of gsrp-search, gsrp-step/],
    ['budget-nash', { N: 1e12 }, 'N', /1000000/],
    ['budget-nash', { f: [1e9, 'fast'] }, 'f[1]', /CPU frequency/],
    ['wholesale-buyback', { cloud: { n: 10, extra: 1 } }, 'cloud.extra', /unknown key/],
    ['futures-spot', { servers: [null, { R: 1.5 }] }, 'servers[1]', /R, kappa, a, zeta/],
    ['ping', { rounds: true }, 'rounds', /integer/],
    ['offload-energy', { claims: 'yes' }, 'claims', /true or false/],
  ])('%s refuses %j naming %s', (id, config, key, message) => {
    const e = refusal(id, config);
    expect(e.flag).toBe(key);
    expect(e.message).toMatch(message);
  });

  it("offload-energy checks the keys of the config's own mechanism", () => {
    const e = refusal('offload-energy', { mechanism: 'pricing', server: { C: 3 } }, 'pricing');
    expect(e.flag).toBe('server.C');
    expect(e.message).toMatch(/unknown key \(known here: F, kappa, Pmax, grid, tol\)/);
    expect(() => checkConfig(schemaOf('offload-energy', 'nash'), { server: { C: 3 } })).not.toThrow();
  });

  it('param takes a flag string or a number, and names the key with what it wants', () => {
    expect(param('--f', '4e9', (v) => v > 0, 'positive')).toBe(4e9);
    expect(param('server.f', 7, (v) => v > 0, 'positive')).toBe(7);
    expect(() => param('server.f', -1, (v) => v > 0, 'a positive CPU frequency')).toThrow(/^server\.f: must be a positive CPU frequency, not -1$/);
    expect(() => param('--f', 'NaN', (v) => v > 0, 'positive')).toThrow(ConfigError);
  });
});

describe('server URLs', () => {
  it.each(['nats://127.0.0.1:4222', 'localhost:4222', 'tls://nats.example:4443', 'nats://a:1, nats://b:2', 'nats://u:p@h:4222'])('accepts %s', (url) => {
    expect(parseServers(url).length).toBeGreaterThan(0);
  });
  it.each([
    ['not a url', /is not a server URL/],
    ['http://h:4222', /scheme must be nats:\/\/ or tls:\/\//],
    ['nats://h:99999', /is not a server URL/],
    [' , ', /names no server/],
  ])('refuses %j', (url, message) => {
    expect(() => parseServers(url)).toThrow(message);
  });
});

describe('agent --index', () => {
  it('expands indices, ranges and lists', () => {
    expect(parseIndexList('0-2,5')).toEqual([0, 1, 2, 5]);
  });
  it('refuses a range beyond the most agents a run has before building it, and says to split it', () => {
    expect(() => parseIndexList('0-3000000000')).toThrow(/999999.*split a large range over several processes/);
    expect(() => parseIndexList(`0-${MAX_AGENTS - 1},${MAX_AGENTS - 1}`)).toThrow(/more than 1000000 agents/);
    expect(() => parseIndexList('3,1-4')).toThrow(/3 is listed twice/);
  });
});
