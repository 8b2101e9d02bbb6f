import { describe, expect, it } from 'vitest';
import { stream } from '../../scenarios/common/rng.ts';
import { InProcessRun } from '../../scenarios/inprocess.ts';
import { bestResponseExact, bestResponseFl, flStart, slopeBound, allocationAt } from '../../scenarios/budget-nash/br.ts';
import { budgetNash, type BudgetNashConfig } from '../../scenarios/budget-nash/index.ts';
import { brProblem, columnsOf, costsOf, cyclesPerTask, decay, distance, eligibleServers, queueUpdate, serveColumn, serverCoord, settle, ueAccount, ueCoord, xi, xiGradient, type UeSlot } from '../../scenarios/budget-nash/model.ts';
import { ROWS_MAX_N } from '../../scenarios/budget-nash/protocol.ts';
import { commonOf, createBudgetNashReference, deviationCheck, evaluate, playGame, slotParams, staticBaseline, DEVIATION_TOLERANCE } from '../../scenarios/budget-nash/reference.ts';
import { ConfigError, type Claim, type JsonObject, type LeaderContext, type RoundRequest, type SlotOutcome } from '../../scenarios/types.ts';

const resolve = (o: Partial<Parameters<typeof budgetNash.resolve>[0]> = {}) => budgetNash.resolve({ seed: 1, slots: 50, options: {}, ...o }) as BudgetNashConfig;

/** random UE problems from real slot parameters, with random Z and random others' loads */
function problems(count: number, seed = 7) {
  const cfg = resolve({ seed, users: 20 });
  const g = stream(seed, 'test', 'problems');
  const out: { s: UeSlot; Z: number; others: number[] }[] = [];
  for (let n = 0; n < count; n++) {
    const slot = g.int(0, 400);
    const ues = slotParams(cfg, slot);
    const s = ues[g.int(0, ues.length - 1)];
    const Z = g.next() < 0.3 ? 1 : Math.exp(g.uniform(0, Math.log(2e5)));
    const others = s.servers.map(() => (g.next() < 0.3 ? 0 : g.uniform(0, 12)));
    out.push({ s, Z, others });
  }
  return { cfg, out };
}

describe('budget-nash model', () => {
  it('ξ_i gradient (eq. 26) matches central finite differences of ξ_i', () => {
    const { cfg, out } = problems(60);
    const g = stream(3, 'test', 'fd');
    for (const { s, Z, others } of out) {
      const x = s.servers.map(() => g.uniform(0, s.lambda));
      const grad = xiGradient(s, cfg.V, cfg.b, Z, others, x);
      x.forEach((_, k) => {
        const h = 1e-5;
        const up = x.slice();
        const dn = x.slice();
        up[k] += h;
        dn[k] -= h;
        const fd = (xi(s, cfg.V, cfg.b, Z, others, up) - xi(s, cfg.V, cfg.b, Z, others, dn)) / (2 * h);
        expect(Math.abs(fd - grad[k]) / Math.abs(grad[k])).toBeLessThan(1e-6);
      });
    }
  });

  it('the separable form A + B(1 − c²/(x+c)²) is eq. (26), and x_j(σ) is the root where it equals σ', () => {
    const { cfg, out } = problems(30, 11);
    for (const { s, Z, others } of out) {
      const p = brProblem(s, cfg.V, cfg.b, Z, others);
      const x = allocationAt(p, Math.min(...p.A) + 0.3 * Math.min(...p.B));
      const grad = xiGradient(s, cfg.V, cfg.b, Z, others, x);
      x.forEach((v, k) => {
        const form = p.A[k] + p.B[k] * (1 - (p.c[k] * p.c[k]) / ((v + p.c[k]) * (v + p.c[k])));
        expect(Math.abs(form - grad[k]) / grad[k]).toBeLessThan(1e-12);
      });
    }
  });

  it('eligibility: α_ij = 1 within 5 m, 5/d beyond; α = 0.5 means a 10 m range; the nearest server when none is eligible', () => {
    expect(decay(0)).toBe(1);
    expect(decay(5)).toBe(1);
    expect(decay(10)).toBe(0.5);
    expect(decay(20)).toBe(0.25);
    const c = { M: 50, spacing: 2, alpha: 0.5 };
    for (const u of [0, 0.7, 13.3, -49.9, 50, 47.5]) {
      const el = eligibleServers(u, c);
      const within = Array.from({ length: 50 }, (_, j) => j).filter((j) => distance(u, j, c) <= 10 + 1e-12);
      expect(el).toEqual(within);
      expect(el.length).toBeGreaterThan(0);
    }
    // servers on the diagonal at (2k, 2k), k = −25..24; a UE's position u is measured along the diagonal
    expect(serverCoord(0, c)).toBe(-50);
    expect(serverCoord(49, c)).toBe(48);
    expect(distance(0, 25, c)).toBe(0);
    expect(distance(1, 25, c)).toBe(1);
    expect(distance(0, 26, c)).toBeCloseTo(Math.hypot(2, 2), 12);
    expect(distance(1, 26, c)).toBeCloseTo(Math.hypot(2 - 1 / Math.SQRT2, 2 - 1 / Math.SQRT2), 12);
    // α = 1 (5 m) on servers 20 m apart per axis: between two servers nothing is eligible → the nearest (lower index on a tie)
    const sparse = { M: 5, spacing: 20, alpha: 1 };
    expect(eligibleServers(10 * Math.SQRT2, sparse)).toEqual([2]); // per-axis coords −40,−20,0,20,40: 0 and 20 tie at (10, 10) → index 2
    expect(eligibleServers(12 * Math.SQRT2, sparse)).toEqual([3]);
    expect(eligibleServers(1, sparse)).toEqual([2]);
    // a smaller α widens the range
    expect(eligibleServers(0, { ...c, alpha: 0.25 }).length).toBeGreaterThan(eligibleServers(0, c).length);
    // rate decay enters r_ij
    const cfg = resolve();
    const s = slotParams(cfg, 9)[0];
    s.servers.forEach((j, k) => expect(s.rate[k]).toBeCloseTo(decay(distance(s.u, j, commonOf(cfg))) * s.rmax, 6));
  });

  it('movement: start at (0,0), η per slot along the diagonal (η/√2 per axis) in +x,+y, reflecting at ±50 per axis', () => {
    const edge = 50 * Math.SQRT2;
    expect(ueCoord(4, 0, 50)).toBe(0);
    expect(ueCoord(4, 1, 50)).toBe(4);
    // exact before the first reflection: the distance travelled is η·τ
    for (const eta of [3, 4, 5]) for (let t = 0; eta * t <= edge; t++) expect(ueCoord(eta, t, 50)).toBe(eta * t);
    for (const eta of [3, 4, 5])
      for (let t = 0; t < 400; t++) {
        const u = ueCoord(eta, t, 50);
        expect(Math.abs(u)).toBeLessThanOrEqual(edge);
        // moves by at most η each slot (less when it reflects)
        expect(Math.abs(ueCoord(eta, t + 1, 50) - u)).toBeLessThanOrEqual(eta + 1e-9);
        // the reflected path: a triangle wave of period 4·edge
        const p = (eta * t) % (4 * edge);
        const want = p <= edge ? p : p <= 3 * edge ? 2 * edge - p : p - 4 * edge;
        expect(Math.abs(u - want)).toBeLessThan(1e-9);
      }
    // reflection: reaches +50 per axis, turns back
    const tEdge = Math.ceil(edge / 5);
    expect(ueCoord(5, tEdge, 50)).toBeLessThan(edge);
    expect(ueCoord(5, tEdge + 1, 50)).toBeLessThan(ueCoord(5, tEdge, 50));
  });

  it('eligibility at the exact boundary, checked in integer arithmetic (independent of model.ts’s floats)', () => {
    // Before its first reflection a UE with speed η is η·τ m along the diagonal from (0, 0); server
    // j = 25 + k sits at (2k, 2k), i.e. 2√2·k m along it. With α = 0.5 the range is 5/α = 10 m, so j is
    // eligible iff η·τ − 10 ≤ √8·k ≤ η·τ + 10, decided here on integers by squaring.
    const atMost = (a: number, k: number) => (k >= 0 ? a <= 0 || a * a <= 8 * k * k : a < 0 && a * a >= 8 * k * k); // a ≤ √8·k
    const atLeast = (b: number, k: number) => (k <= 0 ? b >= 0 || b * b <= 8 * k * k : b > 0 && b * b >= 8 * k * k); // b ≥ √8·k
    const exact = (p: number) => Array.from({ length: 50 }, (_, j) => j).filter((j) => atMost(p - 10, j - 25) && atLeast(p + 10, j - 25));
    const c = { M: 50, spacing: 2, alpha: 0.5 };
    let boundary = 0;
    for (const eta of [3, 4, 5])
      for (let t = 0; (eta * t) ** 2 <= 5000; t++) {
        const p = eta * t;
        expect(eligibleServers(ueCoord(eta, t, 50), c), `η = ${eta}, τ = ${t}`).toEqual(exact(p));
        if (p === 10) boundary++;
      }
    expect(boundary).toBe(1); // η = 5, τ = 2: exactly 10 m from the server at (0, 0)
    expect(exact(10)).toEqual([25, 26, 27, 28, 29, 30, 31, 32]);
    // the tolerance keeps a server whose distance carries a rounding error; a real shortfall still drops it
    expect(eligibleServers(10 * (1 + 1e-15), c)).toContain(25);
    expect(eligibleServers(10 * (1 + 1e-9), c)).not.toContain(25);
  });

  it('slot 2 of the default run: a UE with η = 5 is exactly 10 m from server 25 and the protocol uses it (spec’s formulas, not model.ts)', async () => {
    let cases = 0;
    for (const seed of [1, 2, 3, 4]) {
      const cfg = resolve({ seed, slots: 3 });
      const fives = cfg.eta.flatMap((e, i) => (e === 5 ? [i] : []));
      if (!fives.length) continue;
      const run = new InProcessRun(budgetNash as never, cfg);
      const ref = createBudgetNashReference(cfg, { baselines: false });
      let r!: Awaited<ReturnType<typeof run.runSlot>>;
      for (let slot = 0; slot <= 2; slot++) {
        r = await run.runSlot(slot);
        expect(ref.slot(slot, r.outcome).compare.ok).toBe(true);
      }
      const eq = r.outcome.equilibrium as { servers: number[][]; alloc: number[][]; loads: number[] };
      for (const i of fives) {
        cases++;
        // the UE at (5·2/√2, 5·2/√2) = (√50, √50); server 25 + k at (2k, 2k): d² = 2(√50 − 2k)² = 100 − 40√2·k + 8k²
        const d = (k: number) => Math.sqrt(100 - 40 * Math.SQRT2 * k + 8 * k * k);
        expect(eq.servers[i]).toEqual([25, 26, 27, 28, 29, 30, 31, 32]);
        // and its rates: server 25 at α = 5/10 = 0.5 exactly
        const s = slotParams(cfg, 2)[i];
        expect(s.rate[0]).toBe(0.5 * s.rmax);
        s.servers.forEach((j, k) => expect(Math.abs(s.rate[k] / s.rmax - Math.min(1, 5 / d(j - 25)))).toBeLessThan(1e-12));
        expect(eq.alloc[i][0]).toBeGreaterThan(0);
      }
      // the slot's MSP energy from the spec's formulas on the protocol's allocation: Σ_j b w_i f_j λ_ij² / (Λ_j + 1) + new deployments
      const ues = slotParams(cfg, 2);
      let Cexec = 0;
      ues.forEach((u, i) => eq.servers[i].forEach((j, k) => (Cexec += (cfg.b * u.a * u.delta * cfg.f[j] * eq.alloc[i][k] ** 2) / (u.lambda * (eq.loads[j] + 1)))));
      expect(Math.abs((r.outcome.equilibrium.Cexec as number) - Cexec) / Cexec).toBeLessThan(1e-12);
    }
    expect(cases).toBeGreaterThan(0);
  });

  it('queue update Z(τ+1) = max(Z − C̄ + C, 1)', () => {
    expect(queueUpdate(1, 20000, 9000)).toBe(1);
    expect(queueUpdate(1, 20000, 25000)).toBe(5001);
    expect(queueUpdate(5001, 20000, 17000)).toBe(2001);
    expect(queueUpdate(2001, 20000, 10000)).toBe(1);
    expect(queueUpdate(1, 20000, 20000)).toBe(1);
  });

  it('reported costs: deployment only on newly used servers; execution time on used servers; energy per the spec', () => {
    const cfg = resolve();
    const common = commonOf(cfg);
    const s = slotParams(cfg, 3)[2];
    const [j0, j1] = s.servers;
    const loads = new Array(cfg.M).fill(0);
    loads[j0] = 5;
    loads[j1] = 2;
    const x = [s.lambda - 1, 1];
    const fresh = costsOf(s, [j0, j1], x, loads, new Set(), common);
    const kept = costsOf(s, [j0, j1], x, loads, new Set([j0]), common);
    expect(fresh.migrations).toBe(2);
    expect(kept.migrations).toBe(1);
    expect(fresh.Q - kept.Q).toBeCloseTo(s.mAll[j0], 12);
    expect(fresh.C - kept.C).toBeCloseTo(s.eAll[j0], 9);
    const f0 = cfg.f[j0];
    const cp0 = (cfg.b * s.a * s.delta * f0 * x[0] ** 2) / (s.lambda * (loads[j0] + 1));
    const cp1 = (cfg.b * s.a * s.delta * cfg.f[j1] * x[1] ** 2) / (s.lambda * (loads[j1] + 1));
    expect(kept.C).toBeCloseTo(cp0 + cp1 + s.eAll[j1], 9);
    // an unused server costs no execution time
    const none = costsOf(s, [j0, j1], [s.lambda, 0], loads, new Set([j0]), common);
    expect(none.used).toBe(1);
    expect(none.Q).toBeCloseTo((s.a / s.rate[0]) + (s.a * s.delta * (loads[j0] + 1)) / (s.lambda * f0), 9);
  });

  it('the split accounts (servers: Λ_j, t_p, c_p; UEs: transmission, deployment) settle to the spec’s costs in one piece', () => {
    const cfg = resolve({ seed: 4 });
    const common = commonOf(cfg);
    for (const slot of [0, 9, 33]) {
      const ues = slotParams(cfg, slot, common);
      const b = staticBaseline('ES', cfg, ues, slot, common);
      // a mixed allocation: ES rows with one UE's first server emptied (an exact zero) and a tiny entry
      b.rows[1] = b.rows[1].map((v, k) => (k === 0 ? 0 : v));
      b.rows[2] = b.rows[2].map((v, k) => (k === 0 && b.rows[2].length > 1 ? 1e-12 : v));
      const prev = ues.map((u, i) => new Set(i % 2 ? u.servers.slice(0, 1) : []));
      const cols = columnsOf(cfg.M, b.servers, b.rows, ues.map(cyclesPerTask));
      const srv = cols.map((col, j) => serveColumn(cfg.f[j], cfg.b, col));
      const loads = srv.map((a) => a.L);
      // Λ_j is the column sum of λ_ij, bit for bit what folding the rows in index order gives
      const folded = new Array(cfg.M).fill(0);
      b.rows.forEach((row, i) => row.forEach((v, k) => (folded[b.servers[i][k]] = folded[b.servers[i][k]] + v)));
      expect(loads).toEqual(folded);
      expect(cols[b.servers[1][0]].u).not.toContain(1);
      const parts = ues.map((u, i) => ueAccount(u, b.servers[i], b.rows[i], loads, prev[i], common, new Set(u.servers)));
      const st = settle(cols, srv, parts);
      let C = 0;
      ues.forEach((u, i) => {
        const c = costsOf(u, b.servers[i], b.rows[i], loads, prev[i], common, new Set(u.servers));
        expect(Math.abs(st.Q[i] - c.Q)).toBeLessThanOrEqual(1e-12 * c.Q);
        expect(Math.abs(parts[i].Qs - c.Qsmooth)).toBeLessThanOrEqual(1e-12 * c.Qsmooth);
        expect(parts[i].migrations).toBe(c.migrations);
        C += c.C;
      });
      expect(Math.abs(st.C - C)).toBeLessThanOrEqual(1e-12 * C);
      expect(st.Cexec).toBeGreaterThan(0);
      expect(st.Cexec).toBeLessThan(st.C);
    }
  });
});

describe('budget-nash best responses', () => {
  it('`exact` equals `fl` within ψ, and both rows are feasible', () => {
    const { cfg, out } = problems(300, 5);
    for (const psi of [0.1, 0.01]) {
      for (const { s, Z, others } of out) {
        const p = brProblem(s, cfg.V, cfg.b, Z, others);
        const ex = bestResponseExact(p);
        const fl = bestResponseFl(p, psi, cfg.gamma);
        expect(fl.ok).toBe(true);
        for (const r of [ex.x, fl.x]) {
          expect(Math.abs(r.reduce((a, v) => a + v, 0) - s.lambda)).toBeLessThan(1e-9);
          for (const v of r) {
            expect(v).toBeGreaterThanOrEqual(0);
            expect(v).toBeLessThanOrEqual(s.lambda + 1e-12);
          }
        }
        for (let k = 0; k < ex.x.length; k++) expect(Math.abs(ex.x[k] - fl.x[k])).toBeLessThanOrEqual(psi);
      }
    }
  });

  it('`exact` is the minimizer: no feasible perturbation (transfers between servers) lowers ξ_i', () => {
    const { cfg, out } = problems(120, 9);
    const g = stream(4, 'test', 'perturb');
    for (const { s, Z, others } of out) {
      const p = brProblem(s, cfg.V, cfg.b, Z, others);
      const x = bestResponseExact(p).x;
      const f0 = xi(s, cfg.V, cfg.b, Z, others, x);
      for (let t = 0; t < 40; t++) {
        const y = x.slice();
        const a = g.int(0, y.length - 1);
        const b = g.int(0, y.length - 1);
        if (a === b) continue;
        const amt = Math.min(y[b], g.uniform(0, 1) * (t < 20 ? 1e-3 : 1) * s.lambda);
        y[a] += amt;
        y[b] -= amt;
        expect(xi(s, cfg.V, cfg.b, Z, others, y)).toBeGreaterThanOrEqual(f0 * (1 - 1e-13));
      }
      // and the independent deviation check agrees it is a best response
      const loads = new Array(cfg.M).fill(0);
      s.servers.forEach((j, k) => (loads[j] = others[k] + x[k]));
      const d = deviationCheck(s, cfg.V, cfg.b, Z, loads, x);
      expect(d.ok).toBe(true);
      expect(d.bound).toBeLessThan(1e-6);
    }
  });

  it('the deviation check catches a non-best response', () => {
    const { cfg, out } = problems(40, 13);
    let caught = 0;
    for (const { s, Z, others } of out) {
      if (s.servers.length < 2) continue;
      const even = s.servers.map(() => s.lambda / s.servers.length);
      const loads = new Array(cfg.M).fill(0);
      s.servers.forEach((j, k) => (loads[j] = others[k] + even[k]));
      const best = bestResponseExact(brProblem(s, cfg.V, cfg.b, Z, others)).x;
      const gain = (xi(s, cfg.V, cfg.b, Z, others, even) - xi(s, cfg.V, cfg.b, Z, others, best)) / xi(s, cfg.V, cfg.b, Z, others, even);
      const d = deviationCheck(s, cfg.V, cfg.b, Z, loads, even);
      // the search finds (nearly) the whole gain of moving to the best response
      if (gain > DEVIATION_TOLERANCE) {
        caught++;
        expect(d.ok).toBe(false);
        expect(d.found).toBeGreaterThan(0.99 * gain);
      }
      expect(d.found).toBeLessThanOrEqual(gain * (1 + 1e-6) + 1e-12);
    }
    expect(caught).toBeGreaterThan(10);
  });

  it('FL starts a UE’s first best response at σ₀ = min_j A_ij and later ones at that UE’s previous σ, across rounds and slots', () => {
    const cfg = resolve({ seed: 5 });
    const ue = budgetNash.createFollower(budgetNash.agentInit(cfg, { id: 'ue-2', role: 'ue', index: 2 }), { id: 'ue-2', role: 'ue', index: 2 });
    const L = new Array(cfg.M).fill(0);
    let sigma: number | undefined;
    let checked = 0;
    for (const [slot, round, Z] of [[0, 1, 1], [0, 2, 1], [1, 1, 40], [2, 1, 900]] as const) {
      const s = slotParams(cfg, slot)[2];
      const p = brProblem(s, cfg.V, cfg.b, Z, s.servers.map(() => 0));
      const want = bestResponseFl(p, cfg.psi, cfg.gamma, sigma ?? flStart(p));
      if (sigma === undefined) expect(flStart(p)).toBe(Math.min(...p.A));
      const r = ue.handle('br', { L, Z, k: 1, r: round }, { slot, round, from: 'broker' }) as { x: number[]; n: number };
      expect(r.n).toBe(want.loops);
      expect(r.x).toEqual(want.x);
      sigma = want.sigma;
      checked++;
    }
    expect(checked).toBe(4);
    // without a start the solver uses σ₀ itself
    const s0 = slotParams(cfg, 0)[2];
    const p0 = brProblem(s0, cfg.V, cfg.b, 1, s0.servers.map(() => 0));
    expect(bestResponseFl(p0, cfg.psi, cfg.gamma)).toEqual(bestResponseFl(p0, cfg.psi, cfg.gamma, flStart(p0)));
  });

  it('FL step: the slope bound S dominates the slope of Σ_j λ_ij(σ), so the iteration never overshoots', () => {
    const { cfg, out } = problems(50, 17);
    for (const { s, Z, others } of out) {
      const p = brProblem(s, cfg.V, cfg.b, Z, others);
      const S = slopeBound(p);
      const lo = Math.min(...p.A);
      const hi = Math.max(...p.A.map((A, k) => A + p.B[k]));
      const sum = (x: number) => allocationAt(p, x).reduce((a, v) => a + v, 0);
      for (let t = 0; t < 50; t++) {
        const a = lo + ((hi - lo) * t) / 50;
        const b = a + (hi - lo) / 500;
        expect((sum(b) - sum(a)) / (b - a)).toBeLessThanOrEqual(S * (1 + 1e-9));
      }
    }
  });
});

describe('budget-nash configuration', () => {
  it('resolve fills every parameter; the printed config reads back identically', () => {
    const cfg = resolve({ seed: 5, users: 12, options: { mecs: '40', br: 'exact', order: 'simultaneous', cbar: '25000', v: 2500 } });
    expect(cfg.N).toBe(12);
    expect(cfg.M).toBe(40);
    expect(cfg.f).toHaveLength(40);
    expect(cfg.eta).toHaveLength(12);
    expect(cfg.mechanism).toBe('simultaneous');
    expect(cfg.cbar).toBe(25000);
    expect(cfg.V).toBe(2500);
    for (const f of cfg.f) expect([1e10, 2e10, 3e10, 4e10, 5e10]).toContain(f);
    for (const e of cfg.eta) expect([3, 4, 5]).toContain(e);
    const printed = JSON.parse(JSON.stringify(cfg)) as JsonObject;
    const back = budgetNash.resolve({ mechanism: printed.mechanism as string, seed: printed.seed as number, slots: printed.slots as number, config: printed, options: {} });
    expect(back).toEqual(cfg);
    // defaults
    const d = resolve();
    expect([d.N, d.M, d.V, d.cbar, d.psi, d.epsilon, d.Phi, d.alpha, d.mechanism, d.br]).toEqual([10, 50, 2000, 20000, 0.1, 1e-2, 200, 0.5, 'sequential', 'fl']);
    expect(budgetNash.defaultSlots).toBe(1000);
    // parameters depend on the seed and the index only
    expect(resolve({ seed: 5, users: 3 }).eta).toEqual(resolve({ seed: 5, users: 12 }).eta.slice(0, 3));
  });

  it('rejects impossible values with ConfigError naming the key', () => {
    const bad: [Record<string, string | number>, string][] = [
      [{ mecs: 0 }, 'mecs'],
      [{ br: 'newton' }, 'br'],
      [{ order: 'random' }, '--order'],
      [{ cbar: -1 }, 'cbar'],
      [{ psi: 0 }, 'psi'],
      [{ gamma: 1 }, 'gamma'],
      [{ kappa: 0 }, 'kappa'],
      [{ alpha: 2 }, 'alpha'],
      [{ phi: 2.5 }, 'phi'],
      [{ epsilon: 'x' }, 'epsilon'],
    ];
    for (const [options, flag] of bad) {
      let err: unknown;
      try {
        resolve({ options });
      } catch (e) {
        err = e;
      }
      expect(err, JSON.stringify(options)).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).flag).toBe(flag);
    }
    expect(() => resolve({ users: 0 })).toThrow(ConfigError);
    expect(() => resolve({ mechanism: 'auction' })).toThrow(ConfigError);
    expect(() => resolve({ mechanism: 'sequential', options: { order: 'simultaneous' } })).toThrow(ConfigError);
    expect(() => resolve({ config: { eta: [3, 4] }, users: 3 })).toThrow(ConfigError);
    expect(() => resolve({ config: { f: [1e10, -1] } })).toThrow(ConfigError);
  });

  it('agents: broker first, then M servers and N UEs; a UE or MEC init blob does not grow with N', () => {
    const small = resolve({ users: 10 });
    const big = resolve({ users: 1000 });
    const agents = budgetNash.agents(big);
    expect(agents[0]).toEqual({ id: 'broker', role: 'broker', index: 0 });
    expect(agents).toHaveLength(1 + 50 + 1000);
    expect(agents.filter((a) => a.role === 'mec').map((a) => a.id)).toEqual(Array.from({ length: 50 }, (_, j) => `mec-${j}`));
    const mec = budgetNash.agentInit(big, { id: 'mec-7', role: 'mec', index: 7 });
    expect(mec).toEqual({ index: 7, f: big.f[7], b: big.b, pos: [serverCoord(7, big), serverCoord(7, big)] });
    expect(JSON.stringify(mec)).toBe(JSON.stringify(budgetNash.agentInit(small, { id: 'mec-7', role: 'mec', index: 7 })));
    expect(budgetNash.leaderId(big)).toBe('broker');
    const size = (cfg: BudgetNashConfig) => JSON.stringify(budgetNash.agentInit(cfg, { id: 'ue-3', role: 'ue', index: 3 })).length;
    expect(size(big)).toBeLessThanOrEqual(size(small) + 2);
    expect(JSON.stringify(budgetNash.agentInit(big, agents[0])).length).toBeLessThan(300);
  });
});

/** a leader context that records every request (what the NATS runtime would send) */
async function recordRequests(cfg: BudgetNashConfig, slots: number) {
  const run = new InProcessRun(budgetNash as never, cfg);
  const sent: RoundRequest[] = [];
  const inner = run as unknown as { leader: { runSlot: (ctx: LeaderContext) => Promise<SlotOutcome> } };
  const orig = inner.leader.runSlot.bind(inner.leader);
  inner.leader.runSlot = (ctx: LeaderContext) =>
    orig({
      ...ctx,
      round: <R = JsonObject>(r: RoundRequest) => {
        sent.push(structuredClone(r));
        return ctx.round<R>(r);
      },
    });
  for (let s = 0; s < slots; s++) await run.runSlot(s);
  return sent;
}

describe('budget-nash protocol', () => {
  it('sequential asks one UE at a time in index order; simultaneous broadcasts once per round; bodies do not grow with N', async () => {
    const seq = await recordRequests(resolve({ users: 6, slots: 2 }), 2);
    const br = seq.filter((r) => r.kind === 'br');
    expect(br.every((r) => Array.isArray(r.to) && r.to.length === 1)).toBe(true);
    expect(br.slice(0, 6).map((r) => (r.to as string[])[0])).toEqual(['ue-0', 'ue-1', 'ue-2', 'ue-3', 'ue-4', 'ue-5']);
    expect(br.length % 6).toBe(0);
    const sim = await recordRequests(resolve({ users: 6, slots: 2, mechanism: 'simultaneous' }), 1);
    expect(sim.filter((r) => r.kind === 'br').every((r) => r.to === 'ue')).toBe(true);
    expect(sim[0].body?.k).toBe(1); // undamped first round
    expect(sim[1].body?.k).toBe(0.5);
    expect(sim.slice(-2).map((r) => r.kind)).toEqual(['serve', 'final']);
    const sizeOf = (n: number) => recordRequests(resolve({ users: n, slots: 1, mechanism: 'simultaneous' }), 1).then((r) => Math.max(...r.filter((q) => q.body).map((q) => JSON.stringify(q.body).length)));
    const [s6, s60] = [await sizeOf(6), await sizeOf(60)];
    expect(s60).toBeLessThan(s6 + 400); // M loads + Z, whatever N
  });

  it('a UE ignores malformed bodies', () => {
    const cfg = resolve();
    const ue = budgetNash.createFollower(budgetNash.agentInit(cfg, { id: 'ue-0', role: 'ue', index: 0 }), { id: 'ue-0', role: 'ue', index: 0 });
    const meta = { slot: 0, round: 1, from: 'broker' };
    const L = new Array(cfg.M).fill(0);
    expect(ue.handle('br', { L: [1, 2], Z: 1, k: 1, r: 1 }, meta)).toBeUndefined();
    expect(ue.handle('br', { L, Z: -3, k: 1, r: 1 }, meta)).toBeUndefined();
    expect(ue.handle('br', { L, Z: 1, k: 2, r: 1 }, meta)).toBeUndefined();
    expect(ue.handle('br', { L: L.map(() => 'x'), Z: 1, k: 1, r: 1 }, meta)).toBeUndefined();
    expect(ue.handle('bogus', { L, Z: 1 }, meta)).toBeUndefined();
    const ok = ue.handle('br', { L, Z: 1, k: 1, r: 1 }, meta) as { x: number[] };
    expect(ok.x.reduce((a, v) => a + v, 0)).toBeCloseTo(slotParams(cfg, 0)[0].lambda, 9);
  });

  it('serve: each mec-j gets only its column, once per slot after the game; it answers Λ_j, energy and times; messages per slot', async () => {
    for (const mechanism of ['sequential', 'simultaneous'] as const) {
      const cfg = resolve({ slots: 3, mechanism });
      const sent = await recordRequests(cfg, 3);
      const serve = sent.filter((r) => r.kind === 'serve');
      expect(serve).toHaveLength(3);
      for (const r of serve) {
        expect(r.to).toEqual(Array.from({ length: cfg.M }, (_, j) => `mec-${j}`));
        expect(r.body).toBeUndefined();
        expect(Object.keys(r.bodies!)).toHaveLength(cfg.M);
      }
      // per slot: game rounds, then serve, then final
      const kinds = sent.map((r) => r.kind).join(' ');
      expect(kinds).toMatch(/^(br )+serve final (br )+serve final (br )+serve final$/);
      // the columns are the final allocation's, and the servers' loads are what the equilibrium reports
      const run = new InProcessRun(budgetNash as never, cfg);
      for (let slot = 0; slot < 3; slot++) {
        const r = await run.runSlot(slot);
        const eq = r.outcome.equilibrium as { alloc: number[][]; servers: number[][]; loads: number[]; C: number; Cexec: number };
        const x = r.outcome.extra as JsonObject;
        const R = x.gameRounds as number;
        const N = cfg.N;
        const M = cfg.M;
        // sequential: 2N per game round; simultaneous: 1 + N; then serve M + M, final 1 + N
        expect(r.messages).toBe(R * (mechanism === 'sequential' ? 2 * N : 1 + N) + 2 * M + 1 + N);
        expect(r.rounds).toBe(R * (mechanism === 'sequential' ? N : 1) + 2);
        const body = serve[slot].bodies!;
        for (let j = 0; j < M; j++) {
          const col = body[`mec-${j}`] as { u: number[]; x: number[]; w: number[] };
          const want = eq.alloc.flatMap((row, i) => row.map((v, k) => ({ i, j: eq.servers[i][k], v }))).filter((e) => e.j === j && e.v !== 0);
          expect(col.u).toEqual(want.map((e) => e.i));
          expect(col.x).toEqual(want.map((e) => e.v));
          expect(col.x.reduce((a, v) => a + v, 0)).toBeCloseTo(eq.loads[j], 12);
        }
        expect(eq.Cexec).toBeGreaterThan(0);
        expect(eq.Cexec).toBeLessThan(eq.C);
      }
    }
  });

  it('the servers’ replies are load-bearing: a server that over-reports its energy raises C and Z; a silent one is noted', async () => {
    const cfg = resolve({ slots: 2, options: { cbar: 1000 } });
    const honest = new InProcessRun(budgetNash as never, cfg);
    const liar = new InProcessRun(budgetNash as never, cfg);
    const silent = new InProcessRun(budgetNash as never, cfg);
    const h0 = await honest.runSlot(0);
    const loads = h0.outcome.equilibrium.loads as number[];
    const j = loads.findIndex((v) => v > 0.5);
    const followers = (r: InProcessRun) => (r as unknown as { followers: Map<string, { handle: (...a: never[]) => JsonObject | undefined }> }).followers;
    const real = followers(liar).get(`mec-${j}`)!;
    followers(liar).set(`mec-${j}`, { handle: (...a: never[]) => ({ ...real.handle(...a)!, E: ((real.handle(...a) as JsonObject).E as number) + 1000 }) });
    followers(silent).set(`mec-${j}`, { handle: () => undefined });
    const l0 = await liar.runSlot(0);
    expect(l0.outcome.equilibrium.C as number).toBeCloseTo((h0.outcome.equilibrium.C as number) + 1000, 6);
    expect(l0.outcome.equilibrium.Znext as number).toBeGreaterThan(h0.outcome.equilibrium.Znext as number);
    const s0 = await silent.runSlot(0);
    expect(s0.outcome.notes?.join(' ')).toContain(`mec-${j}`);
    expect(s0.outcome.equilibrium.C as number).toBeLessThan(h0.outcome.equilibrium.C as number);
    expect(s0.outcome.equilibrium.loads).toEqual(loads.map((v, k) => (k === j ? expect.closeTo(v, 12) : v)));
  });

  it('a MEC server ignores malformed columns and other kinds', () => {
    const cfg = resolve();
    const mec = budgetNash.createFollower(budgetNash.agentInit(cfg, { id: 'mec-3', role: 'mec', index: 3 }), { id: 'mec-3', role: 'mec', index: 3 });
    const meta = { slot: 0, round: 1, from: 'broker' };
    expect(mec.handle('br', { L: [], Z: 1 }, meta)).toBeUndefined();
    expect(mec.handle('serve', { u: [0, 1], x: [1], w: [1e10] }, meta)).toBeUndefined();
    expect(mec.handle('serve', { u: [0], x: [-1], w: [1e10] }, meta)).toBeUndefined();
    expect(mec.handle('serve', { u: [0], x: [1], w: [0] }, meta)).toBeUndefined();
    expect(mec.handle('serve', { u: [0.5], x: [1], w: [1e10] }, meta)).toBeUndefined();
    expect(mec.handle('serve', { u: [], x: [], w: [] }, meta)).toEqual({ L: 0, E: 0, tp: [] });
    const r = mec.handle('serve', { u: [0, 4], x: [1, 2], w: [1e10, 2e10] }, meta) as { L: number; E: number; tp: number[] };
    expect(r.L).toBe(3);
    expect(r.tp[1]).toBeCloseTo((2e10 * 4) / cfg.f[3], 12);
    expect(r.E).toBeCloseTo((cfg.b * cfg.f[3] * (1e10 * 1 + 2e10 * 4)) / 4, 6);
  });

  for (const mechanism of ['sequential', 'simultaneous'] as const) {
    for (const seed of [1, 2]) {
      it(`in-process protocol equals the reference slot by slot and round by round (${mechanism}, seed ${seed}, 50 slots, N = 10, M = 50), and no UE can gain by deviating`, async () => {
        const cfg = resolve({ seed, slots: 50, mechanism });
        expect(cfg.N).toBeLessThanOrEqual(ROWS_MAX_N);
        const run = new InProcessRun(budgetNash as never, cfg);
        const ref = createBudgetNashReference(cfg, { baselines: false });
        let messages = 0;
        for (let slot = 0; slot < 50; slot++) {
          const r = await run.runSlot(slot);
          const rs = ref.slot(slot, r.outcome);
          expect(rs.compare.ok, `slot ${slot}: ${rs.compare.note}`).toBe(true);
          expect(rs.compare.gap).toBeLessThanOrEqual(1e-9);
          const game = ref.last!.game;
          expect((r.outcome.extra as JsonObject).gameRounds).toBe(game.rounds);
          // round by round: the recorded gaps equal the reference's
          const gaps = r.trajectory.filter((t) => t.phase === 'game').map((t) => t.gap as number);
          expect(gaps).toHaveLength(game.gaps.length);
          gaps.forEach((g, k) => expect(Math.abs(g - game.gaps[k])).toBeLessThanOrEqual(1e-9 * Math.max(1, game.gaps[k])));
          // the allocations themselves
          const alloc = r.outcome.equilibrium.alloc as number[][];
          alloc.forEach((row, i) => row.forEach((v, k) => expect(Math.abs(v - game.rows[i][k])).toBeLessThanOrEqual(1e-9 * Math.max(Math.abs(v), 1e-9))));
          expect((rs.reference as JsonObject).deviationMax as number).toBeLessThanOrEqual(DEVIATION_TOLERANCE);
          // per-slot record for the CSV
          const last = r.trajectory[r.trajectory.length - 1];
          expect(last.phase).toBe('slot');
          for (const k of ['Z', 'C', 'latency', 'gameRounds', 'loops', 'migrations']) expect(typeof last[k]).toBe('number');
          // slots.csv flattens `extra` beside the runtime's own columns: no key may shadow them
          const extra = r.outcome.extra as JsonObject;
          for (const k of ['slot', 'ok', 'gap', 'converged', 'rounds', 'messages', 'bytes', 'timeToEquilibriumMs']) expect(extra).not.toHaveProperty(k);
          expect(extra.stop).toBe(r.outcome.converged ? 'epsilon' : 'Phi');
          expect(extra.neGap as number).toBeCloseTo(game.gaps[game.gaps.length - 1], 12);
          messages += r.messages;
          expect(r.outcome.converged).toBe(game.converged);
        }
        expect(messages).toBeGreaterThan(0);
        const fin = ref.finish!() as { slotsMatchingReference: number };
        expect(fin.slotsMatchingReference).toBe(50);
      });
    }
  }
});

describe('budget-nash protocol with a binding budget', () => {
  it('equals the reference bit for bit while Z > 1 (C̄ = 8000, both orders, 25 slots)', async () => {
    for (const mechanism of ['sequential', 'simultaneous'] as const) {
      const cfg = resolve({ seed: 3, slots: 25, mechanism, options: { cbar: 8000 } });
      const run = new InProcessRun(budgetNash as never, cfg);
      const ref = createBudgetNashReference(cfg, { baselines: false, deviation: false });
      let zMax = 1;
      for (let slot = 0; slot < 25; slot++) {
        const r = await run.runSlot(slot);
        const rs = ref.slot(slot, r.outcome);
        expect(rs.compare.ok, `${mechanism} slot ${slot}: ${rs.compare.note}`).toBe(true);
        expect(r.outcome.equilibrium.Z).toBe((rs.reference as JsonObject).Z);
        zMax = Math.max(zMax, r.outcome.equilibrium.Z as number);
      }
      expect(zMax).toBeGreaterThan(1000);
    }
  });
});

describe('budget-nash long run (in-process fast path, 1000 slots)', () => {
  const longRun = (cbar: number, baselines = false) => {
    const cfg = resolve({ seed: 1, slots: 1000, options: { cbar } });
    const ref = createBudgetNashReference(cfg, { baselines, deviation: false });
    const fake: SlotOutcome = { equilibrium: {}, converged: true };
    const Z: number[] = [];
    for (let s = 0; s < 1000; s++) Z.push((ref.slot(s, fake).reference as JsonObject).Znext as number);
    return { fin: ref.finish!() as unknown as { policies: Record<string, Record<string, number>>; game: Record<string, number>; claims?: Claim[]; budgetSweep?: JsonObject[] }, Z };
  };

  for (const cbar of [20000, 25000]) {
    it(`time-average energy meets C̄ = ${cbar} and Z stays bounded`, () => {
      const { fin, Z } = longRun(cbar);
      const ne = fin.policies.NE;
      expect(ne.energy).toBeLessThanOrEqual(cbar);
      // mean-rate stable: Z(T)/T → 0; no upward drift from the first half to the second
      expect(Z[Z.length - 1] / 1000).toBeLessThan(0.01 * cbar);
      const firstMax = Math.max(...Z.slice(0, 500));
      const secondMax = Math.max(...Z.slice(500));
      expect(secondMax).toBeLessThanOrEqual(Math.max(2 * firstMax, cbar));
      console.log(`[budget-nash] C̄ = ${cbar}: average energy ${ne.energy.toFixed(1)} J, latency ${ne.latency.toFixed(3)} s, Z mean ${ne.Zmean.toFixed(1)} max ${ne.Zmax.toFixed(1)}, rounds/slot ${fin.game.roundsMean.toFixed(2)} (max ${fin.game.roundsMax})`);
    });
  }

  it('C̄ = 15000 (reported): the queue telescopes, Σ(C − C̄) ≤ Z(T) − Z(0); a larger budget does not raise latency', () => {
    const lo = longRun(15000);
    const hi = longRun(25000);
    const ne = lo.fin.policies.NE;
    expect(1000 * (ne.energy - 15000)).toBeLessThanOrEqual(lo.Z[lo.Z.length - 1] - 1 + 1e-6);
    expect(hi.fin.policies.NE.latency).toBeLessThanOrEqual(ne.latency + 1e-12);
    console.log(`[budget-nash] C̄ = 15000: average energy ${ne.energy.toFixed(1)} J (${ne.energy <= 15000 ? 'meets' : 'exceeds'} the budget), latency ${ne.latency.toFixed(3)} s, Z mean ${ne.Zmean.toFixed(1)} max ${ne.Zmax.toFixed(1)} final ${ne.Zfinal.toFixed(1)}, slots over budget ${ne.overBudgetSlots}`);
  });

  it('baselines on the same trajectories (Fig. 5): reported, with the spec’s claims computed', () => {
    const { fin } = longRun(20000, true);
    const p = fin.policies;
    for (const k of ['NE', 'ES', 'RS', 'NS', 'PS', 'NoG']) expect(Number.isFinite(p[k].energy) && Number.isFinite(p[k].latency)).toBe(true);
    // Fig. 5 at the defaults: NE spends the least energy; RS, NS and PS exceed the budget
    expect(fin.claims!.find((c) => c.id === 'ne-lowest-energy')!.verdict).toBe('holds');
    for (const k of ['RS', 'NS', 'PS']) expect(p[k].energy).toBeGreaterThan(20000);
    // Fig. 7/8: the C̄ sweep reruns the NE game over the same slots; the run's own budget reappears in it
    const sweep = fin.budgetSweep as unknown as Record<string, number | boolean>[];
    expect(sweep.map((r) => r.cbar)).toEqual([12000, 15000, 20000, 25000]);
    const own = sweep.find((r) => r.cbar === 20000)!;
    expect(own.energy).toBe(p.NE.energy);
    expect(own.bindingFraction).toBe(p.NE.bindingFraction);
    expect(own.Zmax).toBe(p.NE.Zmax);
    for (const r of sweep) {
      expect(r.budgetMet).toBe((r.energy as number) <= (r.cbar as number));
      expect(r.bindingFraction).toBeGreaterThanOrEqual(0);
      expect(r.bindingFraction).toBeLessThanOrEqual(1);
      if ((r.bindingFraction as number) > 0) expect(r.Zmax as number).toBeGreaterThan(1);
    }
    // the sweep covers budgets that bind: at 12,000 Z > 1 in some slots, and a tighter budget binds at least as often
    expect(sweep[0].bindingFraction as number).toBeGreaterThan(0);
    for (let k = 1; k < sweep.length; k++) expect(sweep[k].bindingFraction as number).toBeLessThanOrEqual(sweep[k - 1].bindingFraction as number);
    console.log(`[budget-nash] Fig. 7/8 sweep (1000 slots): ${sweep.map((r) => `C̄ ${r.cbar}: energy ${(r.energy as number).toFixed(0)} J ${r.budgetMet ? 'meets' : 'exceeds'}, Z > 1 in ${((r.bindingFraction as number) * 100).toFixed(1)} %, Z max ${(r.Zmax as number).toFixed(0)}, latency ${(r.latency as number).toFixed(3)} s`).join('; ')}`);
    console.log(
      `[budget-nash] Fig. 5 (C̄ = 20000, 1000 slots): ${Object.entries(p)
        .map(([k, v]) => `${k} energy ${v.energy.toFixed(0)} J latency ${v.latency.toFixed(2)} s`)
        .join('; ')}; claims ${JSON.stringify(fin.claims)}`,
    );
    expect(fin.claims).toBeDefined();
  });

  it('baseline choices: ES even over eligible, NS nearest, PS most powerful eligible, RS one eligible server', () => {
    const cfg = resolve({ seed: 3 });
    const common = commonOf(cfg);
    for (const slot of [0, 17, 60]) {
      const ues = slotParams(cfg, slot);
      const es = staticBaseline('ES', cfg, ues, slot, common);
      const ns = staticBaseline('NS', cfg, ues, slot, common);
      const ps = staticBaseline('PS', cfg, ues, slot, common);
      const rs = staticBaseline('RS', cfg, ues, slot, common);
      ues.forEach((u, i) => {
        expect(es.rows[i].every((v) => Math.abs(v - u.lambda / u.servers.length) < 1e-12)).toBe(true);
        const dmin = Math.min(...Array.from({ length: cfg.M }, (_, j) => distance(u.u, j, common)));
        expect(distance(u.u, ns.servers[i][0], common)).toBe(dmin);
        expect(cfg.f[ps.servers[i][0]]).toBe(Math.max(...u.servers.map((j) => cfg.f[j])));
        expect(u.servers).toContain(ps.servers[i][0]);
        expect(u.servers).toContain(rs.servers[i][0]);
      });
    }
    // the game itself: the centralized NE from an empty start reaches ε
    const ues = slotParams(cfg, 5);
    const g = playGame(cfg, ues, 1, []);
    expect(g.converged).toBe(true);
    expect(g.gaps[g.gaps.length - 1]).toBeLessThanOrEqual(cfg.epsilon);
  });
});
