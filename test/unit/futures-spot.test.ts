/**
 * futures-spot: the model (parameters, decisions, futures allocation with shortfall, profits), the
 * fee iteration run through the in-process runner against the centralized reference, the recorded
 * spot rounds against the auction property checks, the configuration round trip and ConfigErrors,
 * and the spec's claims about the two auctions.
 */
import { describe, expect, it } from 'vitest';
import { InProcessRun, sortRoster, targetsOf } from '../../scenarios/inprocess.ts';
import { roundResult } from '../../scenarios/contract.ts';
import { ConfigError, type JsonObject, type RoundRequest, type RoundResult, type RunInput, type Scenario } from '../../scenarios/types.ts';
import { futuresSpot, checkSpotRecord, referenceIteration, type FuturesSpotConfig } from '../../scenarios/futures-spot/index.ts';
import { bestFeeComplete } from '../../scenarios/futures-spot/reference.ts';
import { choosesContract, contractProfit, delivered, futuresAllocate, homogeneousBid, serverProfit, tieCoin, valuations } from '../../scenarios/futures-spot/model.ts';
import { brokerSpot, type SpotRecord } from '../../scenarios/futures-spot/protocol.ts';
import { stream } from '../../scenarios/common/rng.ts';

const resolve = (input: Partial<RunInput> = {}) => futuresSpot.resolve({ seed: 1, slots: 1, options: {}, ...input });
const run = async (cfg: FuturesSpotConfig, slot = 0) => new InProcessRun(futuresSpot as unknown as Scenario, cfg).runSlot(slot);
const stripSlot = (rows: Record<string, unknown>[]) => rows.map(({ slot: _s, ...rest }) => rest);

describe('model', () => {
  it('futures allocation without shortfall fills servers in ascending κ (ties by j)', () => {
    const servers = [
      { R: 4, kappa: 1.0 },
      { R: 3, kappa: 0.5 },
      { R: 5, kappa: 0.5 },
    ];
    const fa = futuresAllocate(servers, [2, 3, 1]); // ΣD = 6: server 1 (3 units), then server 2 (3 of 5)
    expect(fa).toMatchObject({ fut: [0, 3, 3], und: [0, 0, 0], rem: [4, 0, 2], shortfall: false, sumR: 12, sumD: 6 });
    expect(delivered(3, fa)).toBe(3);
  });

  it('futures allocation with shortfall: equal fraction d_i = D_i ΣR/ΣD, servers full, undelivered units by capacity share', () => {
    const fa = futuresAllocate(
      [
        { R: 3, kappa: 1 },
        { R: 2, kappa: 0.5 },
      ],
      [2, 2, 2],
    );
    expect(fa).toMatchObject({ fut: [3, 2], rem: [0, 0], shortfall: true, sumR: 5, sumD: 6 });
    expect(fa.und[0]).toBeCloseTo(0.6, 15);
    expect(fa.und[1]).toBeCloseTo(0.4, 15);
    expect(delivered(2, fa)).toBeCloseTo(5 / 3, 15);
    // contract profit (v − P) d − r + l (D − d) with v = 5, P = 2.5, l = 1.25, r = 1
    expect(contractProfit({ D: 2, v: 5 }, 5 / 3, 2.5, 1.25, 1)).toBeCloseTo(2.5 * (5 / 3) - 1 + 1.25 * (1 / 3), 12);
  });

  it('server profit: futures margin − indemnity + fee share + spot margin − c0 share', () => {
    const p = serverProfit({ R: 3, kappa: 1 }, 2.5, 1.25, 1, { k: 0, r: 2, nc: 4, sumR: 6, fut: 2, und: 0.5, spotUnits: 1, spotRevenue: 3.5 });
    expect(p).toBeCloseTo(1.5 * 2 - 1.25 * 0.5 + (2 * 4 * 3) / 6 + (3.5 - 1) - 3 / 6, 12);
  });

  it('registration decision: contract vs price-taker spot estimate; ties by the seeded coin', () => {
    const u = { D: 2, v: 4, b: 3.5 };
    expect(choosesContract('complete', u, 2.5, 2.9, null, () => 0.9, 0)).toBe(true); // (4 − 2.5)·2 − 2.9 = 0.1 > 0
    expect(choosesContract('complete', u, 2.5, 3.1, null, () => 0.1, 0.5)).toBe(false); // no spot estimate under complete, whatever φ_b
    expect(choosesContract('incomplete', u, 2.5, 0, 2, () => 0.1, 0)).toBe(true); // 3 vs 2·(3.5 − 2) = 3 → tie → coin 0.1 < 1/2
    expect(choosesContract('incomplete', u, 2.5, 0, 2, () => 0.9, 0)).toBe(false);
    expect(choosesContract('incomplete', u, 2.5, 0, 3, () => 0.9, 0)).toBe(true); // 3 > 1
    // the buyers' fee lowers the spot estimate: D·max(0, b − φ_b − p_b) = 2·(3.5 − 0.5 − 1.5) = 3 → tie at r = 0
    expect(choosesContract('incomplete', u, 2.5, 0, 1.5, () => 0.9, 0.5)).toBe(false);
    expect(choosesContract('incomplete', u, 2.5, 0, 1.5, () => 0.1, 0.5)).toBe(true);
    expect(choosesContract('incomplete', u, 2.5, 0, 1.5, () => 0.9, 0.25)).toBe(false); // 2·1.75 = 3.5 > 3
    expect(choosesContract('incomplete', u, 2.5, 0, 1.5, () => 0.1, 0.75)).toBe(true); // 2·1.25 = 2.5 < 3
    const coin = tieCoin(7, 3, 0, 5);
    expect(coin()).toBe(tieCoin(7, 3, 0, 5)());
    expect(coin()).not.toBe(tieCoin(7, 4, 0, 5)());
  });

  it('spot valuations v_ij = v_i ρ_ij ζ_j / mean(ζ)', () => {
    expect(valuations(4, [1, 0.5], [1, 3])).toEqual([2, 3]);
  });
});

describe('fee iteration: in-process protocol equals the centralized reference exactly', () => {
  for (const auction of ['complete', 'incomplete'] as const) {
    for (const seed of [2, 4]) {
      it(`${auction}, seed ${seed}`, async () => {
        const cfg = resolve({ seed, options: { auction } });
        const s = await run(cfg);
        const ref = referenceIteration(cfg, auction, 0);
        expect(ref.rows.length).toBeGreaterThan(5); // a real trajectory, not a one-step stop
        expect(ref.rows.map((x) => x.r)).toEqual(ref.rows.map((_, k) => Number((k * cfg.tau).toFixed(9)))); // r_k = k τ, as decimals
        expect(stripSlot(s.trajectory)).toEqual(ref.rows);
        expect(s.outcome.equilibrium).toEqual(ref.summary);
        expect(s.outcome.converged).toBe(ref.summary.stoppedBy === 'no-contract-users');
        expect(s.outcome.extra!.spot).toEqual(ref.spot);
        const rs = futuresSpot.createReference(cfg).slot(0, s.outcome);
        expect(rs.compare).toMatchObject({ ok: true, gap: 0, against: expect.stringMatching(/^the registration-fee iteration .* computed centrally/) });
        // complete: the optimum over every fee is compared too (at the defaults: no contract users, which the iteration ends on)
        if (auction === 'complete') expect(rs.compare.optimum).toMatchObject({ value: ref.summary.Umax, gapPct: 0, label: expect.stringContaining('no contract users') });
        else expect(rs.compare.optimum).toBeUndefined();
        // five rounds per iteration; 4 + 3M + 2N messages per iteration (ask, fee, bid, award, settle)
        expect(s.rounds).toBe(5 * ref.rows.length);
        expect(s.messages).toBe((4 + 3 * cfg.M + 2 * cfg.N) * ref.rows.length);
        // the auction properties hold on every recorded spot round of the protocol run
        const spot = s.outcome.extra!.spot as SpotRecord[];
        expect(spot.length).toBe(ref.rows.length);
        let traded = 0;
        for (const rec of spot) {
          const c = checkSpotRecord(cfg, auction, rec);
          expect(c, `iteration ${rec.k}`).toMatchObject({ feasible: true, ir: true, bb: true, efficiencyOk: true });
          traded += c.units;
        }
        expect(traded).toBeGreaterThan(0);
      });
    }
  }

  it('a hand-built shortfall instance (ties at the last fee) matches the reference and the hand computation', async () => {
    const cfg = resolve({
      seed: 9,
      config: {
        P: 2.5,
        l: 1.25,
        c0: 1,
        tau: 1,
        maxIterations: 50,
        servers: [
          { R: 3, kappa: 1, a: 1.2, zeta: 1 },
          { R: 2, kappa: 0.5, a: 0.6, zeta: 1 },
        ],
        users: [0, 1, 2].map(() => ({ D: 2, v: 5, rho: [1, 1] })),
      },
    });
    const s = await run(cfg);
    const ref = referenceIteration(cfg, 'complete', 0);
    expect(stripSlot(s.trajectory)).toEqual(ref.rows);
    // r = 0..4: all three register, ΣD = 6 > ΣR = 5; U_k = (1.5·3 − 1.25·0.6 − 0.6) + (2·2 − 1.25·0.4 − 0.4) + r·3 = 6.25 + 3r
    for (let k = 0; k <= 4; k++) {
      expect(s.trajectory[k].nc).toBe(3);
      expect(s.trajectory[k].U as number).toBeCloseTo(6.25 + 3 * k, 12);
      expect(s.trajectory[k].spotUnits).toBe(0);
      expect(s.trajectory[k].price).toBe(null);
    }
    // r = 5: contract profit (5 − 2.5)·2 − 5 = 0 = spot estimate → every user flips its seeded coin
    const coins = [0, 1, 2].map((i) => tieCoin(cfg.seed, i, 0, 5)() < 0.5);
    expect(s.trajectory[5].nc).toBe(coins.filter(Boolean).length);
    expect(s.outcome.equilibrium.iterations).toBe(s.trajectory.length);
    expect(s.trajectory[s.trajectory.length - 1].nc).toBe(0);
    // another slot draws other coins but stays equal to the reference for that slot
    const s1 = await new InProcessRun(futuresSpot as unknown as Scenario, cfg).runSlot(1);
    expect(stripSlot(s1.trajectory)).toEqual(referenceIteration(cfg, 'complete', 1).rows);
    // the best fee over every r ≥ 0: all three registered up to their threshold (5 − 2.5)·2 = 5, U → 6.25 + 3·5 = 21.25;
    // without contracts the greedy serves two users at v = 5 (servers 0 and 1): 2·5 − 2·1 + 2·5 − 2·0.5 − c0 = 16
    const best = bestFeeComplete(cfg);
    expect(best.r).toBe(5);
    expect(best.nc).toBe(3);
    expect(best.U).toBeCloseTo(21.25, 12);
    const c = futuresSpot.createReference(cfg).slot(0, s.outcome).compare;
    expect(c.ok).toBe(true);
    expect(c.optimum!.value).toBe(best.U);
    expect(c.optimum!.gapPct).toBeCloseTo((100 * (21.25 - (s.outcome.equilibrium.Umax as number))) / 21.25, 9);
    expect(c.optimum!.gapPct).toBeGreaterThan(0); // the τ-grid of fees stops short of the threshold (or its tie)
  });

  it('the reference reports both auctions side by side and the other auction from its own iteration', async () => {
    const cfg = resolve({ seed: 2, options: { auction: 'incomplete' } });
    const s = await run(cfg);
    const refRun = futuresSpot.createReference(cfg);
    const rs = refRun.slot(0, s.outcome);
    const auctions = rs.baselines!.auctions as Record<string, JsonObject>;
    expect(auctions.incomplete.Umax).toBe(s.outcome.equilibrium.Umax);
    expect(auctions.complete.Umax).toBe(referenceIteration(cfg, 'complete', 0).summary.Umax);
    expect((auctions.complete.checks as JsonObject).violations).toBe(0);
    expect((auctions.incomplete.checks as JsonObject).violations).toBe(0);
    // the console line names r* and U_max of both auctions
    const line = futuresSpot.describeSlot!(s.outcome, rs);
    expect(line).toMatch(/^incomplete: r\* .* U_max .*; complete \(reference\): r\* .* U_max /);
    const fin = refRun.finish!() as { claims: { id: string; verdict: string }[] };
    expect(fin.claims.map((c) => c.id)).toEqual(['complete-extracts-more']);
    expect(['holds', 'fails']).toContain(fin.claims[0].verdict);
  });

  it('a missing reply is counted and the last strategy (or the broker\'s own profit computation) is used', async () => {
    const cfg = resolve({ seed: 2, options: { auction: 'incomplete' } });
    const agents = futuresSpot.agents(cfg);
    const roster = sortRoster(agents.filter((a) => a.id !== 'broker'), futuresSpot.roles);
    const followers = new Map(roster.map((a) => [a.id, futuresSpot.createFollower(futuresSpot.agentInit(cfg, a), { id: a.id, role: a.role, index: a.index })]));
    const leader = futuresSpot.createLeader(futuresSpot.agentInit(cfg, agents[0]));
    let round = 0;
    const rows: Record<string, unknown>[] = [];
    const outcome = await leader.runSlot({
      slot: 0,
      roster,
      record: (row) => rows.push(row),
      round: async <R = JsonObject>(req: RoundRequest): Promise<RoundResult<R>> => {
        round++;
        const targets = new Set(targetsOf(roster, req).map((a) => a.id));
        const replies = roster.map((a) => {
          if (!targets.has(a.id)) return undefined;
          const rep = followers.get(a.id)!.handle(req.kind, structuredClone((req.bodies && req.bodies[a.id]) ?? req.body ?? {}), { slot: 0, round, from: 'broker' });
          // drop mec-1's profit in the first settle round
          if (req.kind === 'settle' && a.id === 'mec-1' && round === 5) return undefined;
          return rep as R | undefined;
        });
        return roundResult(replies);
      },
    });
    expect(outcome.extra!.missing).toBe(1);
    expect(outcome.notes!.some((n) => n.includes('1 missing'))).toBe(true);
    // the broker recomputes the missing profit from the asks, so the trajectory is unchanged
    expect(rows).toEqual(referenceIteration(cfg, 'incomplete', 0).rows);
  });

  it('compare detects a tampered trajectory', async () => {
    const cfg = resolve({ seed: 2, options: { auction: 'complete' } });
    const s = await run(cfg);
    const t = s.outcome.extra!.trajectory as { U: number[] };
    t.U[3] += 1e-9;
    const c = futuresSpot.createReference(cfg).slot(0, s.outcome).compare;
    expect(c.ok).toBe(false);
    expect(c.gap).toBeGreaterThan(0);
  });
});

describe('broker fees on the incomplete-information spot market (spec revision 2)', () => {
  // one server offering 3 units at a = 1 plus one unit at a = 1.7; four one-unit users with b = v (ρ = 1, one ζ);
  // P = 10: nobody registers, so the iteration is one spot round at r_0 = 0
  const handCfg = (fee: number) =>
    resolve({
      seed: 5,
      options: { auction: 'incomplete', fee },
      config: {
        P: 10,
        servers: [
          { R: 3, kappa: 0.5, a: 1, zeta: 1 },
          { R: 1, kappa: 0.5, a: 1.7, zeta: 1 },
        ],
        users: [4, 3, 2.6, 2.2].map((v) => ({ D: 1, v, rho: [1, 1] })),
      },
    });

  it('φ = 0.5: McAfee on the net book (b − φ_b, a + φ_a); buyers pay p_b + φ_b, servers receive p_s − φ_a, the broker keeps both', async () => {
    const cfg = handCfg(0.5);
    expect([cfg.phiA, cfg.phiB]).toEqual([0.5, 0.5]);
    const s = await run(cfg);
    expect(stripSlot(s.trajectory)).toEqual(referenceIteration(cfg, 'incomplete', 0).rows);
    // net bids 3.5 2.5 2.1 1.7, net asks 1.5 1.5 1.5 2.2: k = 3; p0 = (1.7 + 2.2)/2 = 1.95 ∈ [1.5, 2.1] → 3 units at book price 1.95
    const spot = (s.outcome.extra!.spot as SpotRecord[])[0];
    expect(spot.trades.map(([i, j, q]) => [i, j, q])).toEqual([
      [0, 0, 1],
      [1, 0, 1],
      [2, 0, 1],
    ]);
    for (const t of spot.trades) {
      expect(t[3]).toBeCloseTo(1.95 + 0.5, 12);
      expect(t[4]).toBeCloseTo(1.95 - 0.5, 12);
    }
    const row = s.trajectory[0];
    expect(row).toMatchObject({ k: 0, nc: 0, spotUnits: 3, fees: 3 });
    expect(row.price as number).toBeCloseTo(2.45, 12);
    expect(row.pb as number).toBeCloseTo(1.95, 12);
    expect(row.published as number).toBeCloseTo((1.5 + 2.2) / 2, 12);
    expect(row.spread as number).toBeCloseTo(3, 12); // fees only: the midpoint leaves no book spread
    expect(row.balance as number).toBeCloseTo(1 + 3, 12); // c0 + spot takings
    expect(row.U as number).toBeCloseTo(3 * (1.45 - 0.5) - 1, 12); // server 0: 3 units at 1.45, cost 0.5 each, less c0
    const c = checkSpotRecord(cfg, 'incomplete', spot);
    expect(c).toMatchObject({ ok: true, ir: true, bb: true, efficientUnits: 3, units: 3 });
    // the same trades without the fees charged break the checks' fee-aware budget balance
    const unfeed = { ...spot, trades: spot.trades.map(([i, j, q]) => [i, j, q, 1.95, 1.95] as SpotRecord['trades'][number]) };
    expect(checkSpotRecord(cfg, 'incomplete', unfeed).bb).toBe(false);
  });

  it('--fee 0 is the market without fees (here trade reduction: 3 of k = 4 units, buyers pay b_4, sellers get a_4)', async () => {
    const cfg = handCfg(0);
    const s = await run(cfg);
    expect(stripSlot(s.trajectory)).toEqual(referenceIteration(cfg, 'incomplete', 0).rows);
    // bids 4 3 2.6 2.2, asks 1 1 1 1.7: k = 4, no unit 5 → 3 units, buyers pay 2.2, sellers receive 1.7
    expect((s.outcome.extra!.spot as SpotRecord[])[0].trades).toEqual([
      [0, 0, 1, 2.2, 1.7],
      [1, 0, 1, 2.2, 1.7],
      [2, 0, 1, 2.2, 1.7],
    ]);
    expect(s.trajectory[0]).toMatchObject({ published: (1 + 1.7) / 2, pb: 2.2, price: 2.2, fees: 0 });
  });

  it('the complete auction charges no fees whatever --fee says', async () => {
    const a = referenceIteration(resolve({ seed: 3, options: { auction: 'complete', fee: 0.5 } }), 'complete', 0, { checks: false });
    const b = referenceIteration(resolve({ seed: 3, options: { auction: 'complete', fee: 0 } }), 'complete', 0, { checks: false });
    expect(a.rows).toEqual(b.rows);
    expect(a.rows.every((x) => x.fees === 0 && x.published === null)).toBe(true);
  });

  it('defaults, seeds 1–20: the published price is the book price of the last round with trades (before any, mean_j (a_j + φ_a)), and users choose with D·max(0, b − φ_b − p_b)', () => {
    let afterNoTrade = 0;
    for (let seed = 1; seed <= 20; seed++) {
      const cfg = resolve({ seed, options: { auction: 'incomplete' } });
      const it = referenceIteration(cfg, 'incomplete', 0, { checks: false });
      const zeta = cfg.servers.map((x) => x.zeta);
      const b = cfg.users.map((u) => homogeneousBid(valuations(u.v, u.rho, zeta)));
      let last: number | null = null;
      it.rows.forEach((row, k) => {
        const meanAsk = cfg.servers.reduce((acc, x) => acc + (x.a + 0.5), 0) / cfg.M;
        expect(row.published, `seed ${seed} k ${k}`).toBe(last ?? meanAsk);
        if (k > 0 && it.rows[k - 1].spotUnits === 0) afterNoTrade++;
        // every user's choice follows from the published price, except exact ties (coin)
        let sure = 0;
        let maybe = 0;
        cfg.users.forEach((u, i) => {
          const contract = (u.v - cfg.P) * u.D - row.r;
          const spotEst = u.D * Math.max(0, b[i] - 0.5 - row.published!);
          if (contract > spotEst) sure++;
          else if (contract === spotEst) maybe++;
        });
        expect(row.nc).toBeGreaterThanOrEqual(sure);
        expect(row.nc).toBeLessThanOrEqual(sure + maybe);
        expect(row.pb === null).toBe(row.spotUnits === 0);
        if (row.pb !== null) {
          expect(row.price).toBeCloseTo(row.pb + 0.5, 12); // one book price per round: every buyer pays p_b + φ_b
          expect(row.fees).toBe(row.spotUnits);
          last = row.pb;
        }
        expect(row.r).toBe(Number((k * cfg.tau).toPrecision(12))); // r_k = k·τ
      });
    }
    expect(afterNoTrade).toBeGreaterThan(0); // the rule is exercised: some iteration follows a round without trades
  });

  it("truthfulness with fees: no misreport on a grid raises a one-unit user's utility (value − paid) in the broker's spot round (150 random books)", () => {
    const fees = { phiA: 0.5, phiB: 0.5 };
    let tested = 0;
    for (let t = 0; t < 150; t++) {
      const g = stream(77, 'book', t);
      const bids = Array.from({ length: g.int(2, 8) }, (_, i) => ({ i, D: 1, b: g.uniform(1, 6) }));
      const asks = Array.from({ length: g.int(1, 4) }, (_, j) => ({ j, R: g.int(1, 3), a: g.uniform(0.5, 3) }));
      const utility = (i: number, report: number) => {
        const res = brokerSpot('incomplete', [], bids.map((x) => (x.i === i ? { ...x, b: report } : x)), asks, fees);
        return res.trades.filter((x) => x[0] === i).reduce((acc, x) => acc + x[2] * (bids[i].b - x[3]), 0);
      };
      const grid = [...Array.from({ length: 29 }, (_, k) => k * 0.25), ...bids.flatMap((x) => [x.b - 1e-6, x.b + 1e-6]), ...asks.flatMap((x) => [x.a + 1 - 1e-6, x.a + 1 + 1e-6])];
      for (const u of bids) {
        const truthful = utility(u.i, u.b);
        expect(truthful).toBeGreaterThanOrEqual(-1e-12); // IR with the fee paid
        for (const r of grid) expect(utility(u.i, r) - truthful).toBeLessThanOrEqual(1e-9);
        tested++;
      }
    }
    expect(tested).toBeGreaterThan(500);
  });

  it('defaults, seeds 1–20: every spot round with fees is individually rational for the own values, keeps the fees, and meets the efficiency bound of the net book', () => {
    for (let seed = 1; seed <= 20; seed++) {
      const it = referenceIteration(resolve({ seed, options: { auction: 'incomplete' } }), 'incomplete', 0);
      const bad = it.checks.filter((c) => !c.ok);
      expect(bad, `seed ${seed}: ${JSON.stringify(bad[0])}`).toEqual([]);
    }
  });
});

describe('spec claims (reported with numbers)', () => {
  const seeds = Array.from({ length: 20 }, (_, i) => i + 1);
  const runs = seeds.map((seed) => {
    const cfg = resolve({ seed });
    return { seed, c: referenceIteration(cfg, 'complete', 0, { checks: false }), i: referenceIteration(cfg, 'incomplete', 0, { checks: false }) };
  });

  it('complete information extracts more for the servers than incomplete (U_max higher)', () => {
    const rows = runs.map(({ seed, c, i }) => `seed ${seed}: U_max complete ${c.summary.Umax!.toFixed(1)} incomplete ${i.summary.Umax!.toFixed(1)}`);
    console.log(rows.join('\n'));
    for (const { c, i } of runs) expect(c.summary.Umax!).toBeGreaterThan(i.summary.Umax!);
  });

  it('under complete, r* is at or near the end of the iteration', () => {
    for (const { c } of runs) {
      expect(c.summary.stoppedBy).toBe('no-contract-users');
      expect(c.summary.kStar!).toBeGreaterThanOrEqual(c.summary.iterations - 3);
    }
  });

  it('under incomplete with the fees, no seed stops after one iteration and most have an interior r* (revision 2: 16 of 20, 13 with ≥ 3 contract users and 10 spot units)', () => {
    const interior = runs.filter(({ i }) => i.summary.kStar! > 0 && i.summary.kStar! < i.summary.iterations - 1);
    const busy = interior.filter(({ i }) => i.summary.ncStar! >= 3 && i.summary.spotUnitsStar! >= 10);
    const immediate = runs.filter(({ i }) => i.summary.iterations === 1);
    console.log(
      `incomplete: interior r* on ${interior.length}/${runs.length} seeds (${interior.map((x) => `${x.seed}: r* ${x.i.summary.rStar!.toFixed(1)} of ${x.i.summary.iterations} its`).join(', ')}); ` +
        `${busy.length} of them with ≥ 3 contract users and ≥ 10 spot units; stops at k = 0 on ${immediate.length}/${runs.length}`,
    );
    expect(immediate.length).toBe(0);
    expect(interior.length).toBe(16);
    expect(busy.length).toBe(13);
    for (const { i } of runs) expect(i.summary.rStar!).toBeLessThanOrEqual(1.1 + 1e-12);
  });

  it('--fee 0 (the market of revision 1): 14 of 20 seeds stop after one iteration, nobody registering at r_0 = 0', () => {
    const old = seeds.map((seed) => referenceIteration(resolve({ seed, options: { fee: 0 } }), 'incomplete', 0, { checks: false }));
    const immediate = old.filter((i) => i.summary.iterations === 1);
    expect(immediate.length).toBe(14);
    for (const i of immediate) expect(i.rows[0].nc).toBe(0);
  });
});

describe('configuration', () => {
  it('resolve → JSON → resolve is the identity (defaults, options, partial configs)', () => {
    const inputs: Partial<RunInput>[] = [
      {},
      { seed: 42, users: 7, options: { mecs: 3, auction: 'incomplete' } },
      { mechanism: 'incomplete', seed: 5 },
      { seed: 3, config: { P: 3, tau: 0.25, servers: [{ kappa: 1 }], users: [{ D: 4 }, null] } },
      { seed: 4, options: { auction: 'incomplete', fee: 0 } },
      { seed: 4, config: { phiA: 0.2, phiB: 0.7 } },
    ];
    for (const input of inputs) {
      const cfg = resolve(input);
      const printed = JSON.parse(JSON.stringify(cfg)) as JsonObject;
      expect(resolve({ seed: cfg.seed, slots: cfg.slots, config: printed, mechanism: printed.mechanism as string })).toEqual(cfg);
      expect(resolve({ seed: cfg.seed, slots: cfg.slots, config: printed })).toEqual(cfg);
    }
  });

  it('fills every parameter, draws by index, and honours explicit values', () => {
    // the arrays' lengths give M and N unless M, N (or --mecs, --users) say otherwise; the rest is drawn by index
    expect(resolve({ config: { servers: [{ kappa: 1 }], users: [{ D: 4 }, { D: 2 }] } })).toMatchObject({ M: 1, N: 2 });
    const cfg = resolve({ seed: 3, config: { P: 3, M: 5, N: 30, servers: [{ kappa: 1 }], users: [{ D: 4 }] } });
    expect(cfg).toMatchObject({ M: 5, N: 30, P: 3, l: 1.5, c0: 1, tau: 0.1, maxIterations: 200, phiA: 0.5, phiB: 0.5, auction: 'complete', mechanism: 'complete' });
    // --fee sets both fees, over the config's; the config may set them apart
    expect(resolve({ options: { fee: '0.25' }, config: { phiA: 1, phiB: 2 } })).toMatchObject({ phiA: 0.25, phiB: 0.25 });
    expect(resolve({ config: { phiA: 1, phiB: 0 } })).toMatchObject({ phiA: 1, phiB: 0 });
    expect(cfg.servers[0].kappa).toBe(1);
    expect(cfg.servers[0].a / cfg.servers[0].kappa).toBeGreaterThanOrEqual(1.1);
    expect(cfg.servers[0].a / cfg.servers[0].kappa).toBeLessThanOrEqual(1.5);
    expect(cfg.users[0].D).toBe(4);
    const small = resolve({ seed: 3, users: 10, options: { mecs: 3 } });
    const big = resolve({ seed: 3 });
    expect(small.users.map((u) => [u.D, u.v])).toEqual(big.users.slice(0, 10).map((u) => [u.D, u.v]));
    expect(small.users.map((u) => u.rho)).toEqual(big.users.slice(0, 10).map((u) => u.rho.slice(0, 3)));
    expect(small.servers).toEqual(big.servers.slice(0, 3));
    for (const s of big.servers) {
      expect(Number.isInteger(s.R) && s.R >= 20 && s.R <= 50).toBe(true);
      expect(s.kappa >= 0.5 && s.kappa < 1.5 && s.zeta >= 1 && s.zeta < 2).toBe(true);
    }
    for (const u of big.users) expect(Number.isInteger(u.D) && u.D >= 1 && u.D <= 5 && u.v >= 2 && u.v < 6).toBe(true);
    expect(resolve({ options: { auction: 'incomplete' } }).auction).toBe('incomplete');
    expect(resolve({ options: { mecs: '4' } }).M).toBe(4);
  });

  it("a follower's init does not grow with N", () => {
    const a = resolve({ users: 30 });
    const b = resolve({ users: 3000 });
    const size = (cfg: FuturesSpotConfig, role: 'ue' | 'mec', index: number) => JSON.stringify(futuresSpot.agentInit(cfg, { id: `${role}-${index}`, role, index })).length;
    expect(Math.abs(size(a, 'ue', 0) - size(b, 'ue', 0))).toBeLessThan(8);
    expect(size(a, 'mec', 0)).toBe(size(b, 'mec', 0));
    expect(futuresSpot.agents(b)).toHaveLength(1 + 5 + 3000);
    expect(futuresSpot.leaderId(b)).toBe('broker');
  });

  const bad: [string, Partial<RunInput>][] = [
    ['--users', { users: 0 }],
    ['--mecs', { options: { mecs: 0 } }],
    ['--mecs', { options: { mecs: 'x' } }],
    ['--mechanism', { mechanism: 'vickrey' }],
    ['--auction', { options: { auction: 'english' } }],
    ['--auction', { mechanism: 'complete', options: { auction: 'incomplete' } }],
    ['auction', { config: { mechanism: 'complete', auction: 'incomplete' } }],
    ['servers[0].R', { config: { servers: [{ R: -1 }] } }],
    ['servers[1].R', { config: { servers: [{}, { R: 2.5 }] } }],
    ['servers[0].kappa', { config: { servers: [{ kappa: -0.1 }] } }],
    ['servers[0].zeta', { config: { servers: [{ zeta: 0 }] } }],
    ['servers', { config: { servers: { R: 3 } } }],
    ['servers', { config: { servers: [{ R: 0 }], M: 1 } }],
    ['users[2].D', { config: { users: [{}, {}, { D: 0 }] } }],
    ['users[0].v', { config: { users: [{ v: Number.NaN }] } }],
    ['users[0].rho', { config: { users: [{ rho: [1, 1] }] } }],
    ['users', { config: { users: 'many' } }],
    ['P', { config: { P: -1 } }],
    ['l', { config: { l: -0.5 } }],
    ['tau', { config: { tau: 0 } }],
    ['maxIterations', { config: { maxIterations: 1.5 } }],
    ['c0', { config: { c0: 'one' } }],
    ['--fee', { options: { fee: -0.1 } }],
    ['--fee', { options: { fee: 'x' } }],
    ['phiA', { config: { phiA: -1 } }],
    ['phiB', { config: { phiB: Number.POSITIVE_INFINITY } }],
  ];
  for (const [flag, input] of bad) {
    it(`ConfigError ${flag} for ${JSON.stringify(input)}`, () => {
      let err: unknown;
      try {
        resolve(input);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).flag).toBe(flag);
    });
  }
});
