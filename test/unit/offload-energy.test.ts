import { describe, expect, it } from 'vitest';
import { InProcessRun } from '../../scenarios/inprocess.ts';
import { mobilityClaims, nashClaims, roundsIndependentClaim, serverLoadClaim, type Claim, type NashClaimRow } from '../../scenarios/offload-energy/claims.ts';
import { NASH_CLAIM_NS, NASH_CLAIM_SEEDS, offloadEnergy, nashUsersAt, pricingUsersAt, type MobilityConfig, type NashConfig, type OffloadConfig, type PricingConfig } from '../../scenarios/offload-energy/index.ts';
import { bench } from '../../scenarios/offload-energy/bench.ts';
import { simulateNash } from '../../scenarios/offload-energy/nash.ts';
import { exactOptimum } from '../../scenarios/offload-energy/pricing.ts';
import { simulateMobility } from '../../scenarios/offload-energy/mobility.ts';
import { partsOf } from '../../scenarios/contract.ts';
import { ConfigError, type JsonObject, type RunInput } from '../../scenarios/types.ts';

type Opts = RunInput['options'];
const resolve = (mechanism: string | undefined, options: Opts = {}, extra: Partial<RunInput> = {}) => offloadEnergy.resolve({ seed: 1, slots: 1, mechanism, options: { claims: false, ...options }, ...extra });
const run = (cfg: OffloadConfig) => new InProcessRun(offloadEnergy, cfg);
/** the parts of the mechanism `cfg` names (each mechanism has its own leader, followers and reference) */
const parts = (cfg: OffloadConfig) => partsOf(offloadEnergy, cfg.mechanism);

describe('offload-energy config', () => {
  it('defaults per mechanism, with the spec’s parameters', () => {
    const n = resolve('nash') as NashConfig;
    expect(n.users).toHaveLength(20);
    expect(n.server).toMatchObject({ C: 3, W: 5e6, F: 20e9, fmax: 4e9, pmin: 0.01, pmax: 0.2 });
    expect(n).toMatchObject({ grant: 'one', power: 'joint', epsilon: 0.01, maxSlots: 5000 });
    for (const u of n.users) {
      expect(u.d).toBeGreaterThanOrEqual(20);
      expect(u.d).toBeLessThanOrEqual(100);
      expect(u.s).toBeGreaterThanOrEqual(0.5e6);
      expect(u.s).toBeLessThanOrEqual(2e6);
    }
    expect((resolve('nash', { grant: 'all' }) as NashConfig).maxSlots).toBe(500);
    const p = resolve('pricing') as PricingConfig;
    expect(p.users).toHaveLength(5);
    expect(p.server).toMatchObject({ F: 20, kappa: 0.2, Pmax: 3 });
    expect(p.pricing).toBe('semi-distributed');
    const m = resolve('mobility') as MobilityConfig;
    expect(m.users).toHaveLength(20);
    expect(m.world).toMatchObject({ L: 2000, R: 150, sigma: 5, lambda: 0.2 });
    expect(m.predictor).toBe('kalman');
    expect(parts(m).leaderId(m)).toBe('broker');
    expect(parts(n).leaderId(n)).toBe('mec-0');
  });

  it('round trip: the resolved config read back as --config gives the identical config', () => {
    for (const [mech, opts] of [
      ['nash', { grant: 'all', epsilon: 1e-9, channels: 4 }],
      ['pricing', { pricing: 'decentralized', pricemax: 2.5 }],
      ['mobility', { predictor: 'pa', servers: 40 }],
    ] as const) {
      const a = offloadEnergy.resolve({ seed: 9, slots: 2, mechanism: mech, users: 7, options: opts as Opts });
      const config = JSON.parse(JSON.stringify(a)) as JsonObject;
      const b = offloadEnergy.resolve({ seed: 9, slots: 2, mechanism: undefined, config, options: {} });
      expect(b).toEqual(a);
    }
  });

  it('options override the config; parameters depend on seed and index only', () => {
    const a = resolve('nash', {}, { users: 30 }) as NashConfig;
    const b = resolve('nash', {}, { users: 10 }) as NashConfig;
    expect(a.users.slice(0, 10)).toEqual(b.users);
    const cfg = JSON.parse(JSON.stringify(a)) as JsonObject;
    const c = offloadEnergy.resolve({ seed: 1, slots: 1, config: cfg, options: { epsilon: 0.05, grant: 'all' } }) as NashConfig;
    expect(c.epsilon).toBe(0.05);
    expect(c.grant).toBe('all');
  });

  it('rejects impossible values with ConfigError naming the key', () => {
    const bad: [string | undefined, Opts, Partial<RunInput>, string][] = [
      ['auction', {}, {}, '--mechanism'],
      ['nash', {}, { users: 0 }, '--users'],
      ['nash', { grant: 'some' }, {}, 'grant'],
      ['nash', { epsilon: -1 }, {}, 'epsilon'],
      ['nash', { channels: 0 }, {}, 'server.C'],
      ['nash', {}, { config: { server: { pmin: 0.3 } } }, 'server.pmin'],
      ['nash', {}, { config: { server: { F: -1 } } }, 'server.F'],
      ['nash', {}, { config: { users: [{ d: 50, s: 1e6, c: 1000, fl: 0 }] } }, 'users[0].fl'],
      ['nash', {}, { users: 3, config: { users: [{ d: 50, s: 1e6, c: 1000, fl: 1e9 }] } }, '--users'],
      ['pricing', { pricemax: 0.1 }, {}, 'server.Pmax'],
      ['pricing', { pricing: 'central' }, {}, 'pricing'],
      ['pricing', {}, { config: { users: [{ C: 1, e: 1, gamma: -1 }] } }, 'users[0].gamma'],
      ['mobility', { servers: 2.5 }, {}, 'world.M'],
      ['mobility', { predictor: 'oracle' }, {}, 'predictor'],
      ['mobility', {}, { config: { users: [{ x0: 0, dir: 1, v0: 50, a: 1 }] } }, 'users[0].v0'],
      ['nash', { claims: 'maybe' }, {}, 'claims'],
      ['nash', {}, { slots: 0 }, '--slots'],
      ['nash', {}, { config: { scenario: 'stackelberg' } }, 'scenario'],
    ];
    for (const [mech, opts, extra, flag] of bad) {
      let err: unknown;
      try {
        resolve(mech, opts, extra);
      } catch (e) {
        err = e;
      }
      expect(err, `${mech} ${JSON.stringify(opts)} ${JSON.stringify(extra)}`).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).flag).toBe(flag);
    }
  });

  it('a follower’s init does not grow with N; sweeps keep the drawn users as a prefix', () => {
    for (const mech of ['nash', 'pricing', 'mobility']) {
      const small = resolve(mech, {}, { users: 5 });
      const big = resolve(mech, {}, { users: 500 });
      const ue = { id: 'ue-3', role: 'ue' as const, index: 3 };
      expect(JSON.stringify(parts(big).agentInit(big, ue)).length).toBe(JSON.stringify(parts(small).agentInit(small, ue)).length);
      const swept = offloadEnergy.sweep!(small, 'N', 50);
      expect((swept.users as unknown[]).slice(0, 5)).toEqual(small.users);
      expect(swept.users).toEqual(big.users.slice(0, 50));
    }
    expect(() => offloadEnergy.sweep!(resolve('pricing'), 'M', 4)).toThrow(ConfigError);
    expect((offloadEnergy.sweep!(resolve('mobility'), 'M', 40) as MobilityConfig).world.M).toBe(40);
  });
});

describe('bench', () => {
  it("a nash row reports the game's decision slots and status from the run's summary; a pricing row adds nothing", async () => {
    const summaryOf = async (cfg: OffloadConfig) => {
      const s = await run(cfg).runSlot(0);
      return { eq: s.outcome.equilibrium, summary: { mechanism: cfg.mechanism, perSlot: [{ slot: 0, equilibrium: s.outcome.equilibrium, extra: s.outcome.extra }] } };
    };
    const extras = (summary: Record<string, unknown>) => bench.extras!({ config: {}, summary, roundMs: 1, slotMetrics: [] });
    const n = await summaryOf(resolve('nash', {}, { users: 8 }));
    expect(await extras(n.summary)).toEqual({ 'decision slots': n.eq.decisionSlots, status: n.eq.status });
    expect(n.eq.decisionSlots).toBeGreaterThan(0);
    expect(await extras((await summaryOf(resolve('pricing'))).summary)).toEqual({});
  });
});

describe('nash in process', () => {
  it('ends in an ε-equilibrium that the reference confirms, with the outcome’s totals recomputed', async () => {
    const cfg = resolve('nash') as NashConfig;
    const s = await run(cfg).runSlot(0);
    const eq = s.outcome.equilibrium as Record<string, never>;
    const ref = parts(cfg).createReference(cfg).slot(0, s.outcome);
    expect(eq.status).toBe('equilibrium');
    expect(s.outcome.converged).toBe(true);
    expect(ref.compare.ok).toBe(true);
    expect(ref.reference.maxGain as number).toBeLessThanOrEqual(cfg.epsilon);
    expect(ref.reference.profileCost as number).toBeCloseTo(eq.totalCost, 9);
    // the centralized dynamics reach the same profile in the same number of decision slots
    const sim = simulateNash(nashUsersAt(cfg, 0), cfg.server, { epsilon: cfg.epsilon, grant: 'one', power: 'joint', maxSlots: cfg.maxSlots });
    expect(sim.decisionSlots).toBe(eq.decisionSlots);
    expect(sim.profile.o).toEqual(eq.decisions);
    // rounds: a state broadcast per decision slot, a grant round for every slot but the last, the final round
    expect(s.rounds).toBe(2 * (eq.decisionSlots as number) - 1 + 1);
    // the spec's message count: a state broadcast per decision slot, the requests, the grants (one per slot but the last)
    const x = s.outcome.extra as { requests: number; grants: number; protocolMessages: number };
    expect(x.grants).toBe((eq.decisionSlots as number) - 1);
    expect(x.protocolMessages).toBe((eq.decisionSlots as number) + x.requests + x.grants);
    expect(s.trajectory).toHaveLength(eq.decisionSlots as number);
    expect(eq.offloading).toBe((eq.decisions as number[]).filter((o) => o > 0).length);
    expect(eq.totalEnergy as number).toBeGreaterThan(0);
  });

  it('ε = 1e-9 (seed 1, N = 10) ends in a reported cycle that the reference reproduces', async () => {
    const cfg = resolve('nash', { epsilon: 1e-9 }, { users: 10 }) as NashConfig;
    const s = await run(cfg).runSlot(0);
    const eq = s.outcome.equilibrium as Record<string, never>;
    expect(eq.status).toBe('no-equilibrium');
    expect(s.outcome.converged).toBe(false);
    const ref = parts(cfg).createReference(cfg).slot(0, s.outcome);
    expect(ref.compare.ok).toBe(true);
    expect(ref.reference.period).toBe(eq.period);
    const sim = simulateNash(nashUsersAt(cfg, 0), cfg.server, { epsilon: 1e-9, grant: 'one', power: 'joint', maxSlots: 5000 });
    // the cycle is real: the profile after the last slot equals the one `period` slots earlier
    expect(sim.keys[sim.decisionSlots]).toBe(sim.keys[sim.decisionSlots - (eq.period as number)]);
    expect(eq.period as number).toBeGreaterThanOrEqual(2);
    expect(sim.decisionSlots).toBe(eq.decisionSlots);
    // "the same reported cycle": another period, or the same period found at another slot, is a mismatch
    const refRun = parts(cfg).createReference(cfg);
    const forged = (e: Record<string, unknown>) => refRun.slot(0, { ...s.outcome, equilibrium: { ...(eq as JsonObject), ...e } as JsonObject }).compare.ok;
    expect(forged({ period: (eq.period as number) + 1 })).toBe(false);
    expect(forged({ decisionSlots: (eq.decisionSlots as number) + 1 })).toBe(false);
    expect(forged({ status: 'cap', period: null })).toBe(false);
  });

  it('every run ends in an ε-equilibrium or a cycle the reference agrees with (several seeds, both grants)', async () => {
    for (let seed = 2; seed <= 5; seed++) {
      for (const grant of ['one', 'all']) {
        const cfg = offloadEnergy.resolve({ seed, slots: 1, mechanism: 'nash', users: 10, options: { grant, claims: false } });
        const s = await run(cfg).runSlot(0);
        const ref = parts(cfg).createReference(cfg).slot(0, s.outcome);
        const st = (s.outcome.equilibrium as { status: string }).status;
        expect(['equilibrium', 'no-equilibrium'], `seed ${seed} ${grant}`).toContain(st);
        expect(ref.compare.ok, `seed ${seed} ${grant}: ${ref.compare.note}`).toBe(true);
      }
    }
  });

  it('grant-all oscillates on the defaults; fixed power (ODPC) sends p_max and converges', async () => {
    const all = await run(resolve('nash', { grant: 'all' })).runSlot(0);
    expect((all.outcome.equilibrium as { status: string }).status).toBe('no-equilibrium');
    const cfg = resolve('nash', { power: 'fixed' }) as NashConfig;
    const s = await run(cfg).runSlot(0);
    const eq = s.outcome.equilibrium as { status: string; decisions: number[]; powers: number[] };
    expect(eq.status).toBe('equilibrium');
    eq.decisions.forEach((o, i) => expect(eq.powers[i]).toBe(o > 0 ? cfg.server.pmax : 0));
    expect(parts(cfg).createReference(cfg).slot(0, s.outcome).compare.ok).toBe(true);
  });

  it('later slots draw new task sizes; the follower resets to local', async () => {
    const cfg = offloadEnergy.resolve({ seed: 3, slots: 2, mechanism: 'nash', users: 8, options: { claims: false } }) as NashConfig;
    const r = run(cfg);
    const ref = parts(cfg).createReference(cfg);
    await r.runSlot(0);
    const s1 = await r.runSlot(1);
    expect(nashUsersAt(cfg, 1)[0].s).not.toBe(cfg.users[0].s);
    expect(ref.slot(1, s1.outcome).compare.ok).toBe(true);
  });
});

describe('pricing in process', () => {
  it('semi-distributed equals the reference P* in two rounds', async () => {
    for (const [seed, N] of [
      [1, 5],
      [2, 5],
      [3, 50],
      [4, 500],
    ]) {
      const cfg = offloadEnergy.resolve({ seed, slots: 1, mechanism: 'pricing', users: N, options: { claims: false } }) as PricingConfig;
      const s = await run(cfg).runSlot(0);
      const eq = s.outcome.equilibrium as { price: number; profit: number; x: number[] };
      const exact = exactOptimum(pricingUsersAt(cfg, 0), cfg.server.F, cfg.server.kappa);
      expect(s.rounds).toBe(2);
      expect(Math.abs(eq.price - exact.price)).toBeLessThanOrEqual(1e-9 * exact.price);
      expect(Math.abs(eq.profit - exact.profit)).toBeLessThanOrEqual(1e-9 * exact.profit);
      expect(eq.x).toHaveLength(N);
      const ref = parts(cfg).createReference(cfg).slot(0, s.outcome);
      expect(ref.compare.ok).toBe(true);
      expect(ref.reference.withinBounds).toBe(true);
    }
  });

  it('decentralized uses the same number of rounds for N = 5, 50, 500', async () => {
    const rounds: number[] = [];
    for (const N of [5, 50, 500]) {
      const cfg = offloadEnergy.resolve({ seed: 5, slots: 1, mechanism: 'pricing', users: N, options: { pricing: 'decentralized', claims: false } }) as PricingConfig;
      const s = await run(cfg).runSlot(0);
      rounds.push(s.rounds);
      expect((s.outcome.equilibrium as { rounds: number }).rounds).toBe(s.rounds);
      expect(s.messages).toBe(s.rounds * (1 + N));
      // its price is the best the schedule observed: never above the optimum
      const eq = s.outcome.equilibrium as { profit: number };
      expect(eq.profit).toBeLessThanOrEqual(exactOptimum(pricingUsersAt(cfg, 0), 20, 0.2).profit * (1 + 1e-12));
    }
    expect(new Set(rounds).size).toBe(1);
    expect(rounds[0]).toBe(59);
  });

  it('the reference reports the curves, the bounds and how often the decentralized search hits the optimum', () => {
    const cfg = offloadEnergy.resolve({ seed: 1, slots: 1, mechanism: 'pricing', options: { pricing: 'decentralized' } }) as PricingConfig;
    const ref = parts(cfg).createReference(cfg);
    const fin = ref.finish!() as unknown as { claims: Claim[]; claimRuns: { N: number }[]; decentralizedHitRate: { rate: number; hits: number; seeds: number } };
    const rc = fin.claims.find((c) => c.id === 'decentralized-rounds-independent-of-n')!;
    expect(rc.verdict).toBe('holds');
    expect(fin.claimRuns.map((r) => r.N)).toEqual([5, 50, 500]);
    expect(rc.numbers.map((x) => [x.label, x.unit])).toEqual([5, 50, 500].map((N) => [`rounds at N = ${N} (in-process)`, 'rounds']));
    // the spec: "within 1e-4 relative of the optimum in most seeds"
    expect(fin.decentralizedHitRate.seeds).toBe(100);
    expect(fin.decentralizedHitRate.rate).toBeGreaterThan(0.5);
  });
});

describe('mobility in process', () => {
  it('equals the reference for both predictors and several slots', async () => {
    for (const predictor of ['pa', 'kalman']) {
      const cfg = offloadEnergy.resolve({ seed: 2, slots: 2, mechanism: 'mobility', users: 8, options: { predictor, claims: false } }) as MobilityConfig;
      const r = run(cfg);
      const ref = parts(cfg).createReference(cfg);
      for (const slot of [0, 1]) {
        const s = await r.runSlot(slot);
        const eq = s.outcome.equilibrium as { tasks: number; successes: number; delivered: number; byOrder: { tasks: number[] } };
        expect(s.outcome.converged).toBe(true);
        expect(eq.delivered).toBe(eq.tasks);
        expect(eq.tasks).toBeGreaterThan(0);
        expect(eq.byOrder.tasks.reduce((a, b) => a + b, 0)).toBe(eq.tasks);
        const rates = (eq.byOrder as unknown as { rate: number[]; successes: number[] }).rate;
        expect(rates).toEqual(eq.byOrder.tasks.map((n, k) => (eq.byOrder as unknown as { successes: number[] }).successes[k] / n));
        const c = ref.slot(slot, s.outcome);
        expect(c.compare.ok, c.compare.note).toBe(true);
        expect(s.rounds).toBe(76);
      }
    }
  });

  it('users standing still next to a server are always served, by either predictor', () => {
    const cfg = resolve('mobility', {}, { users: 4 }) as MobilityConfig;
    const still = { ...cfg, users: cfg.users.map((u) => ({ ...u, v0: 0, a: 0 })), world: { ...cfg.world, sigma: 0.001, M: 20 } };
    for (const p of ['pa', 'kalman'] as const) {
      const st = simulateMobility(1, 0, still.users, still.world, p);
      expect(st.tasks).toBeGreaterThan(0);
      expect(st.successes).toBe(st.tasks); // at most 50 m from a server, never moving
    }
  });
});

describe('claims', () => {
  const row = (N: number, mqoCost: number, odpcCost: number, mqoOff: number, odpcOff: number, ok = true): NashClaimRow => ({ N, seed: 1, mqoConverged: ok, odpcConverged: true, mqoCost, odpcCost, mqoOffloading: mqoOff, odpcOffloading: odpcOff });

  it('nash claims follow their definitions', () => {
    const yes = nashClaims([row(5, 9, 10, 3, 3), row(10, 19, 20, 5, 4), row(20, 40, 39, 6, 5), row(30, 1, 1, 0, 0, false)]);
    expect(yes[0].verdict).toBe('holds'); // cheaper in 2 of 3 converged, mean relative difference < 0
    expect(yes[0].numbers.find((x) => x.label === 'runs where both converged')!.value).toBe(3);
    expect(yes[0].numbers.find((x) => x.label === 'runs where MQO is cheaper')!.value).toBe(2);
    expect(yes[1].verdict).toBe('holds');
    const no = nashClaims([row(5, 10, 10, 3, 3), row(10, 20, 20, 4, 4)]);
    expect(no[0].verdict).toBe('fails');
    expect(no[1].verdict).toBe('fails');
    expect(nashClaims([row(5, 1, 2, 1, 1, false)])[0].verdict).toBe('not-evaluable');
  });

  it('pricing and mobility claims follow their definitions', () => {
    expect(roundsIndependentClaim([{ N: 5, rounds: 59 }, { N: 500, rounds: 59 }]).verdict).toBe('holds');
    expect(roundsIndependentClaim([{ N: 5, rounds: 2 }, { N: 500, rounds: 9 }]).verdict).toBe('fails');
    expect(roundsIndependentClaim([{ N: 5, rounds: 2 }]).verdict).toBe('not-evaluable');
    expect(serverLoadClaim([{ N: 5, mechanism: 'semi-distributed', serverCpuMs: 0.1 }, { N: 5000, mechanism: 'semi-distributed', serverCpuMs: 3 }]).verdict).toBe('holds');
    expect(serverLoadClaim([{ N: 5, mechanism: 'semi-distributed', serverCpuMs: 3 }, { N: 5000, mechanism: 'semi-distributed', serverCpuMs: 1 }]).verdict).toBe('fails');
    const m = mobilityClaims([
      { M: 5, predictor: 'pa', tasks: 100, successes: 40 },
      { M: 5, predictor: 'kalman', tasks: 100, successes: 45 },
      { M: 10, predictor: 'pa', tasks: 100, successes: 35 },
      { M: 10, predictor: 'kalman', tasks: 100, successes: 60 },
    ]);
    expect(m[0].verdict).toBe('holds');
    expect(m[0].note).toMatch(/does not rise/);
    expect(m[1].verdict).toBe('holds');
    const m2 = mobilityClaims([
      { M: 5, predictor: 'pa', tasks: 100, successes: 50 },
      { M: 5, predictor: 'kalman', tasks: 100, successes: 45 },
      { M: 10, predictor: 'pa', tasks: 100, successes: 55 },
      { M: 10, predictor: 'kalman', tasks: 100, successes: 40 },
    ]);
    expect(m2[0].verdict).toBe('fails');
    expect(m2[1].verdict).toBe('fails');
  });

  it('finish() computes the claims from its own in-process runs (numbers consistent with the runs it reports)', () => {
    const cfg = offloadEnergy.resolve({ seed: 1, slots: 1, mechanism: 'nash', options: {} }) as NashConfig;
    const fin = parts(cfg).createReference(cfg).finish!() as unknown as { claims: Claim[]; claimRuns: NashClaimRow[] };
    // every N for each of NASH_CLAIM_SEEDS populations (the spec: the comparison over converged seeds)
    expect(fin.claimRuns).toHaveLength(NASH_CLAIM_NS.length * NASH_CLAIM_SEEDS);
    expect(fin.claimRuns.filter((r) => r.seed === 1).map((r) => r.N)).toEqual(NASH_CLAIM_NS);
    expect([...new Set(fin.claimRuns.map((r) => r.seed))]).toEqual(Array.from({ length: NASH_CLAIM_SEEDS }, (_, k) => 1 + k));
    expect(fin.claims).toEqual(nashClaims(fin.claimRuns));
    for (const c of fin.claims) expect(['holds', 'fails', 'not-evaluable']).toContain(c.verdict);
    // a row is the centralized dynamics on that seed's first N users, MQO and ODPC
    const r = fin.claimRuns.find((x) => x.seed === 3 && x.N === 10)!;
    const users3 = (offloadEnergy.resolve({ seed: 3, slots: 1, mechanism: 'nash', users: 10, options: { claims: false } }) as NashConfig).users;
    const mqo = simulateNash(users3, cfg.server, { epsilon: cfg.epsilon, grant: cfg.grant, power: 'joint', maxSlots: cfg.maxSlots });
    const odpc = simulateNash(users3, cfg.server, { epsilon: cfg.epsilon, grant: 'one', power: 'fixed', maxSlots: 5000 });
    expect(r.mqoCost).toBe(mqo.metrics.totalCost);
    expect(r.odpcCost).toBe(odpc.metrics.totalCost);
    expect(r.mqoOffloading).toBe(mqo.metrics.offloading);
    expect(r.mqoConverged).toBe(mqo.status === 'equilibrium');
    const mcfg = offloadEnergy.resolve({ seed: 1, slots: 1, mechanism: 'mobility', options: {} }) as MobilityConfig;
    const mfin = parts(mcfg).createReference(mcfg).finish!() as unknown as { claims: Claim[]; claimRuns: Parameters<typeof mobilityClaims>[0] };
    expect(mfin.claimRuns).toHaveLength(8);
    expect(mfin.claims).toEqual(mobilityClaims(mfin.claimRuns));
    const r5 = mfin.claimRuns.find((r) => r.M === 5 && r.predictor === 'kalman')!;
    let tasks = 0;
    let successes = 0;
    const first = { tasks: 0, successes: 0 };
    for (let s = 0; s < 5; s++) {
      const st = simulateMobility(1, s, mcfg.users, { ...mcfg.world, M: 5 }, 'kalman');
      tasks += st.tasks;
      successes += st.successes;
      first.tasks += st.byOrder.tasks[0];
      first.successes += st.byOrder.successes[0];
    }
    expect(r5.tasks).toBe(tasks);
    expect(r5.successes).toBe(successes);
    expect(r5.successRate).toBe(successes / tasks);
    // success rate by task order, pooled over the replicates
    expect(r5.rateByOrder![0]).toBe(first.successes / first.tasks);
    // the pricing claim: a decentralized run adds its own round count (measured) to the in-process ones
    const pcfg = offloadEnergy.resolve({ seed: 1, slots: 1, mechanism: 'pricing', users: 7, options: { pricing: 'decentralized' } }) as PricingConfig;
    const pref = parts(pcfg).createReference(pcfg);
    const outcome = { equilibrium: { price: 1, profit: 1, rounds: 61 }, converged: true };
    pref.slot(0, outcome as never);
    const pfin = pref.finish!() as unknown as { claims: Claim[]; claimRuns: unknown[] };
    const perN = pfin.claimRuns as { N: number; rounds: number; source: string }[];
    expect(perN.map((x) => x.N)).toEqual([5, 50, 500, 7]);
    expect(perN[3]).toEqual({ N: 7, rounds: 61, source: 'this run (slot 0)' });
    expect(pfin.claims[0].verdict).toBe('fails'); // 61 ≠ 59: the claim is computed from the numbers, whatever they are
  });
});

describe('what a slot is compared with', () => {
  it('nash: the ε-Nash condition (not a cost minimum); pricing: the optimum P*; mobility: the same predictor simulated centrally', async () => {
    const against = async (mechanism: string, options: Opts) => {
      const cfg = resolve(mechanism, options, { users: 8 });
      const c = parts(cfg).createReference(cfg).slot(0, (await run(cfg).runSlot(0)).outcome).compare;
      expect(c.ok, c.note).toBe(true);
      expect(c.optimum).toBeUndefined();
      return c.against;
    };
    expect(await against('nash', {})).toBe('the ε-Nash condition checked centrally (ε = 0.01; an equilibrium, not a minimum of total cost)');
    expect(await against('nash', { power: 'fixed' })).toBe('the ε-Nash condition checked centrally (ε = 0.01, p fixed at p_max (ODPC); an equilibrium, not a minimum of total cost)');
    expect(await against('pricing', {})).toBe('the reference optimum P* (exact piecewise maximum)');
    expect(await against('pricing', { pricing: 'decentralized' })).toBe("the reference optimum P*'s profit to 0.0001 relative");
    for (const predictor of ['pa', 'kalman']) expect(await against('mobility', { predictor })).toBe(`the ${predictor} predictor simulated centrally (same drives and tasks)`);
  });
});
