/**
 * The reference side: the same game played centrally (one process, full information, no messages),
 * round by round, with its own Lyapunov queue; an independent unilateral-deviation check at each
 * slot's end; and the baselines ES, RS, NS, PS, NoG on the same trajectories.
 *
 * The deviation check uses only ξ_i's values (the spec's formula, `xi`), never eq. (26) nor the
 * best-response solvers: a Frank–Wolfe certificate ξ(x) − min ξ ≤ ∇ξ·x − λ_i min_j ∂_jξ with a
 * central-difference gradient (an upper bound on what any deviation can gain, ξ being convex), and,
 * when that bound exceeds the tolerance, a direct search (pairwise transfers with golden-section
 * line searches) for an actual improving deviation.
 */
import { stream } from '../common/rng.ts';
import type { Claim, Json, JsonObject, ReferenceRun, ReferenceSlot, SlotOutcome } from '../types.ts';
import { claim, n } from '../common/claims.ts';
import { bestResponse } from './br.ts';
import type { BudgetNashConfig } from './config.ts';
import { applyRow, brProblem, columnsOf, cyclesPerTask, damp, distance, othersOf, queueUpdate, serveColumn, settle, ueAccount, ueSlot, usedSet, xi, type Common, type UeSlot } from './model.ts';
import { ROWS_MAX_N } from './protocol.ts';

/** allocations, loads, costs and Z must agree within this (relative) */
export const PROTOCOL_TOLERANCE = 1e-9;
/** no UE may gain more than this (relative) by deviating alone */
export const DEVIATION_TOLERANCE = 1e-3;
/** the budgets of the seed's Fig. 7/8 sweep (spec, revision 2): 12,000 and 15,000 are where the budget binds */
export const CBAR_SWEEP = [12000, 15000, 20000, 25000];
/** what a distributed slot is compared with: an equilibrium computed the same way, not an optimum */
export const COMPARED_AGAINST = `the same Nash rounds computed centrally (an equilibrium, not an optimum), with no UE gaining more than ${DEVIATION_TOLERANCE} (relative) by deviating alone`;

export const commonOf = (cfg: BudgetNashConfig): Common => ({ M: cfg.M, f: cfg.f, V: cfg.V, b: cfg.b, alpha: cfg.alpha, area: cfg.area, spacing: cfg.spacing });

export function slotParams(cfg: BudgetNashConfig, slot: number, common = commonOf(cfg)): UeSlot[] {
  return cfg.eta.map((eta, i) => ueSlot(cfg.seed, i, eta, slot, common));
}

export interface GameResult {
  rows: number[][];
  loads: number[];
  rounds: number;
  gaps: number[];
  loops: number;
  brCalls: number;
  converged: boolean;
}

/**
 * The NE game of one slot, centrally: every slot starts empty; `sigma` (per UE, FL warm starts) is
 * read and updated in place.
 */
export function playGame(cfg: BudgetNashConfig, ues: UeSlot[], Z: number, sigma: (number | undefined)[]): GameResult {
  const N = ues.length;
  let rows: (number[] | undefined)[] = new Array(N).fill(undefined);
  const loads = new Array<number>(cfg.M).fill(0);
  const gaps: number[] = [];
  let loops = 0;
  let brCalls = 0;
  let converged = false;
  const br = (i: number, own: number[] | undefined) => {
    const p = brProblem(ues[i], cfg.V, cfg.b, Z, othersOf(loads, ues[i].servers, own));
    const r = bestResponse(cfg.br, p, cfg.psi, cfg.gamma, sigma[i]);
    sigma[i] = r.sigma;
    loops += r.loops;
    brCalls++;
    return r.x;
  };
  const dist2 = (a: number[], old: number[] | undefined) => a.reduce((s, v, k) => s + (v - (old ? old[k] : 0)) ** 2, 0);
  let phi = 0;
  while (phi < cfg.Phi) {
    phi++;
    let d2 = 0;
    if (cfg.mechanism === 'sequential') {
      for (let i = 0; i < N; i++) {
        const x = br(i, rows[i]);
        d2 += dist2(x, rows[i]);
        applyRow(loads, ues[i].servers, rows[i], x);
        rows[i] = x;
      }
    } else {
      const kappa = phi === 1 ? 1 : cfg.kappa;
      const next = ues.map((_, i) => {
        const x = br(i, rows[i]);
        d2 += dist2(x, rows[i]);
        return damp(rows[i], x, kappa);
      });
      rows = next;
      loads.fill(0);
      for (let i = 0; i < N; i++) applyRow(loads, ues[i].servers, undefined, rows[i]!);
    }
    const gap = Math.sqrt(d2);
    gaps.push(gap);
    if (gap <= cfg.epsilon) {
      converged = true;
      break;
    }
  }
  return { rows: rows.map((r) => r!), loads, rounds: phi, gaps, loops, brCalls, converged };
}

export interface Deviation {
  /** Frank–Wolfe upper bound on the relative gain of any unilateral deviation */
  bound: number;
  /** the relative gain of the best deviation found by direct search when bound > tol; else the bound itself */
  found: number;
  ok: boolean;
}

/** UE i's smooth cost ξ_i at its row x against the others' loads (L − x), and what deviating could gain */
export function deviationCheck(s: UeSlot, V: number, b: number, Z: number, loads: number[], x: number[], tol = DEVIATION_TOLERANCE): Deviation {
  const others = s.servers.map((j, k) => Math.max(0, loads[j] - x[k]));
  const f = (y: number[]) => xi(s, V, b, Z, others, y);
  const f0 = f(x);
  const n = x.length;
  if (n === 1) return { bound: 0, found: 0, ok: true };
  const h = 1e-6 * s.lambda;
  const grad = x.map((_, k) => {
    const up = x.slice();
    const dn = x.slice();
    up[k] += h;
    dn[k] -= h;
    return (f(up) - f(dn)) / (2 * h);
  });
  const bound = Math.max(0, grad.reduce((a, g, k) => a + g * x[k], 0) - s.lambda * Math.min(...grad)) / f0;
  if (bound <= tol) return { bound, found: bound, ok: true };
  // direct search: pairwise transfers t from q to p, golden section on t ∈ [−y_p, y_q]
  const y = x.slice();
  let best = f0;
  const gr = (Math.sqrt(5) - 1) / 2;
  for (let sweep = 0; sweep < 200; sweep++) {
    const start = best;
    for (let p = 0; p < n; p++) {
      for (let q = p + 1; q < n; q++) {
        const at = (t: number) => {
          const z = y.slice();
          z[p] += t;
          z[q] -= t;
          return f(z);
        };
        let lo = -y[p];
        let hi = y[q];
        let c1 = hi - gr * (hi - lo);
        let c2 = lo + gr * (hi - lo);
        let f1 = at(c1);
        let f2 = at(c2);
        for (let it = 0; it < 80; it++) {
          if (f1 < f2) {
            hi = c2;
            c2 = c1;
            f2 = f1;
            c1 = hi - gr * (hi - lo);
            f1 = at(c1);
          } else {
            lo = c1;
            c1 = c2;
            f1 = f2;
            c2 = lo + gr * (hi - lo);
            f2 = at(c2);
          }
        }
        const t = 0.5 * (lo + hi);
        const ft = at(t);
        if (ft < best) {
          best = ft;
          y[p] += t;
          y[q] -= t;
          if (y[p] < 0) y[p] = 0;
          if (y[q] < 0) y[q] = 0;
        }
      }
    }
    if (start - best <= 1e-13 * Math.abs(f0)) break;
  }
  const found = (f0 - best) / f0;
  return { bound, found, ok: found <= tol };
}

/** one policy's outcome in one slot */
export interface PolicySlot {
  C: number;
  /** the servers' execution energy (part of C) */
  Cexec: number;
  latency: number;
  latencySmooth: number;
  migrations: number;
  /** Λ_j as the servers publish it (column sums) */
  loads: number[];
  Q: number[];
}

/**
 * Evaluate rows (per UE: servers, amounts) with the reported costs, split and summed exactly as the
 * protocol does (each server's `serveColumn` on its column, each UE's `ueAccount` at the servers'
 * loads, `settle`): C feeds Z and FL's stopping test is a threshold, so the last bits matter.
 * Updates prevUsed.
 */
export function evaluate(cfg: BudgetNashConfig, ues: UeSlot[], servers: number[][], rows: number[][], prevUsed: Set<number>[], common: Common): PolicySlot {
  const cols = columnsOf(cfg.M, servers, rows, ues.map(cyclesPerTask));
  const srv = cols.map((col, j) => serveColumn(cfg.f[j], cfg.b, col));
  const loads = srv.map((s) => s.L);
  let QsSum = 0;
  let migrations = 0;
  const parts = ues.map((u, i) => {
    const a = ueAccount(u, servers[i], rows[i], loads, prevUsed[i], common, new Set(u.servers));
    QsSum += a.Qs;
    migrations += a.migrations;
    prevUsed[i] = usedSet(servers[i], rows[i]);
    return a;
  });
  const st = settle(cols, srv, parts);
  let Qsum = 0;
  for (const q of st.Q) Qsum += q;
  return { C: st.C, Cexec: st.Cexec, latency: Qsum / ues.length, latencySmooth: QsSum / ues.length, migrations, loads, Q: st.Q };
}

const nearestOf = (u: UeSlot, cands: number[], common: Common) => {
  let best = cands[0];
  let bd = Infinity;
  for (const j of cands) {
    const d = distance(u.u, j, common);
    if (d < bd) {
      bd = d;
      best = j;
    }
  }
  return best;
};

/** single-server and even-split baselines: rows as (servers, amounts) */
export function staticBaseline(kind: 'ES' | 'RS' | 'NS' | 'PS', cfg: BudgetNashConfig, ues: UeSlot[], slot: number, common: Common): { servers: number[][]; rows: number[][] } {
  const g = stream(cfg.seed, 'baseline', 'rs', slot);
  const servers: number[][] = [];
  const rows: number[][] = [];
  for (const u of ues) {
    if (kind === 'ES') {
      servers.push(u.servers);
      rows.push(u.servers.map(() => u.lambda / u.servers.length));
      continue;
    }
    let j: number;
    if (kind === 'RS') j = u.servers[g.int(0, u.servers.length - 1)];
    else if (kind === 'NS') j = nearestOf(u, Array.from({ length: cfg.M }, (_, k) => k), common);
    else {
      const fmax = Math.max(...u.servers.map((k) => cfg.f[k]));
      j = nearestOf(u, u.servers.filter((k) => cfg.f[k] === fmax), common);
    }
    servers.push([j]);
    rows.push([u.lambda]);
  }
  return { servers, rows };
}

export const POLICIES = ['NE', 'ES', 'RS', 'NS', 'PS', 'NoG'] as const;
export type Policy = (typeof POLICIES)[number];

interface Track {
  Z: number;
  prevUsed: Set<number>[];
  energy: number;
  latency: number;
  latencySmooth: number;
  migrations: number;
  Zsum: number;
  Zmax: number;
  overBudgetSlots: number;
  /** slots decided with Z > 1, i.e. with the budget queue pressing on the decision */
  boundSlots: number;
}

const rel = (a: number, b: number) => Math.abs(a - b) / Math.max(Math.abs(a), Math.abs(b), 1e-9);

export interface ReferenceOptions {
  /** skip the baselines (long-run fast path) */
  baselines?: boolean;
  /** skip the deviation check */
  deviation?: boolean;
  /** skip the C̄ sweep of Fig. 7/8 in `finish` (it runs only with the baselines) */
  sweep?: boolean;
}

/** one budget of the Fig. 7/8 sweep: the NE game alone over the run's slots with C̄ changed */
export interface BudgetSweepRow extends JsonObject {
  cbar: number;
  energy: number;
  budgetMet: boolean;
  /** fraction of slots decided with Z > 1 */
  bindingFraction: number;
  Zmax: number;
  latency: number;
  roundsMean: number;
}

/** the NE game with budget `cbar` over slots 0..slots−1 (no baselines, no deviation check) */
export function budgetSweepRow(cfg: BudgetNashConfig, cbar: number, slots: number): BudgetSweepRow {
  const ref = createBudgetNashReference({ ...cfg, cbar }, { baselines: false, deviation: false, sweep: false });
  const none: SlotOutcome = { equilibrium: {}, converged: true };
  for (let s = 0; s < slots; s++) ref.slot(s, none);
  const fin = ref.finish!() as { policies: Record<string, Record<string, number | boolean>>; game: Record<string, number> };
  const ne = fin.policies.NE;
  return { cbar, energy: ne.energy as number, budgetMet: ne.budgetMet as boolean, bindingFraction: ne.bindingFraction as number, Zmax: ne.Zmax as number, latency: ne.latency as number, roundsMean: fin.game.roundsMean };
}

/** The reference run: per slot, the centralized game, the comparison, the deviation check, the baselines. */
export function createBudgetNashReference(cfg: BudgetNashConfig, opts: ReferenceOptions = {}): ReferenceRun & { last?: { game: GameResult; ues: UeSlot[]; ne: PolicySlot; Z: number } } {
  const common = commonOf(cfg);
  const withBaselines = opts.baselines !== false;
  const withDeviation = opts.deviation !== false;
  const withSweep = withBaselines && opts.sweep !== false;
  const N = cfg.N;
  const newTrack = (): Track => ({ Z: 1, prevUsed: Array.from({ length: N }, () => new Set<number>()), energy: 0, latency: 0, latencySmooth: 0, migrations: 0, Zsum: 0, Zmax: 1, overBudgetSlots: 0, boundSlots: 0 });
  const tracks = Object.fromEntries(POLICIES.map((p) => [p, newTrack()])) as Record<Policy, Track>;
  const sigma: (number | undefined)[] = new Array(N).fill(undefined);
  const sigmaNoG: (number | undefined)[] = new Array(N).fill(undefined);
  let slots = 0;
  let roundsSum = 0;
  let roundsMax = 0;
  let loopsSum = 0;
  let brCalls = 0;
  let notConverged = 0;
  let devWorst = 0;
  let devFailSlots = 0;
  let compareOk = 0;
  const account = (t: Track, ps: PolicySlot) => {
    t.energy += ps.C;
    t.latency += ps.latency;
    t.latencySmooth += ps.latencySmooth;
    t.migrations += ps.migrations;
    t.Zsum += t.Z;
    if (t.Z > 1) t.boundSlots++;
    if (ps.C > cfg.cbar) t.overBudgetSlots++;
    t.Z = queueUpdate(t.Z, cfg.cbar, ps.C);
    t.Zmax = Math.max(t.Zmax, t.Z);
  };
  const run: ReturnType<typeof createBudgetNashReference> = {
    slot(slot: number, distributed: SlotOutcome): ReferenceSlot {
      const ues = slotParams(cfg, slot, common);
      const ne = tracks.NE;
      const Z = ne.Z;
      const game = playGame(cfg, ues, Z, sigma);
      const servers = ues.map((u) => u.servers);
      const nePs = evaluate(cfg, ues, servers, game.rows, ne.prevUsed, common);
      account(ne, nePs);
      slots++;
      roundsSum += game.rounds;
      roundsMax = Math.max(roundsMax, game.rounds);
      loopsSum += game.loops;
      brCalls += game.brCalls;
      if (!game.converged) notConverged++;

      // ---- compare with the distributed outcome ----
      const eq = distributed.equilibrium as Record<string, unknown>;
      const ex = (distributed.extra ?? {}) as Record<string, unknown>;
      const problems: string[] = [];
      let gap = 0;
      const upd = (what: string, g: number) => {
        if (!(g <= PROTOCOL_TOLERANCE)) problems.push(`${what} differs by ${Number.isFinite(g) ? g.toExponential(2) : g} (relative)`);
        gap = Math.max(gap, Number.isFinite(g) ? g : Infinity);
      };
      if (ex.gameRounds !== game.rounds) problems.push(`${String(ex.gameRounds)} game rounds, reference ${game.rounds}`);
      const dl = eq.loads as number[] | undefined;
      upd('loads', Array.isArray(dl) && dl.length === cfg.M ? Math.max(0, ...dl.map((v, j) => rel(v, nePs.loads[j]))) : Infinity);
      for (const [k, v] of [['Z', Z], ['C', nePs.C], ['Cexec', nePs.Cexec], ['latency', nePs.latency]] as const) upd(k, typeof eq[k] === 'number' ? rel(eq[k] as number, v) : Infinity);
      const dAlloc = eq.alloc as number[][] | undefined;
      const dServers = eq.servers as number[][] | undefined;
      let devRows = game.rows;
      let devLoads = nePs.loads;
      if (Array.isArray(dAlloc) && Array.isArray(dServers) && dAlloc.length === N) {
        let g = 0;
        for (let i = 0; i < N; i++) {
          if (dServers[i].join(',') !== servers[i].join(',')) {
            problems.push(`ue-${i}: eligible servers ${dServers[i].join(' ')} vs reference ${servers[i].join(' ')}`);
            g = Infinity;
            break;
          }
          for (let k = 0; k < servers[i].length; k++) g = Math.max(g, rel(dAlloc[i][k], game.rows[i][k]));
        }
        upd('allocations', g);
        if (Number.isFinite(g) && Array.isArray(dl)) {
          devRows = dAlloc;
          devLoads = dl;
        }
      } else if (N <= ROWS_MAX_N) problems.push('the outcome carries no allocation rows');

      // ---- unilateral deviation on the final allocation (the distributed one when it is carried) ----
      let devMax = 0;
      let devBound = 0;
      let devFails = 0;
      if (withDeviation) {
        for (let i = 0; i < N; i++) {
          const d = deviationCheck(ues[i], cfg.V, cfg.b, Z, devLoads, devRows[i]);
          devBound = Math.max(devBound, d.bound);
          devMax = Math.max(devMax, d.found);
          if (!d.ok) devFails++;
        }
        devWorst = Math.max(devWorst, devMax);
        if (devFails) {
          devFailSlots++;
          problems.push(`${devFails} UE(s) can gain more than ${DEVIATION_TOLERANCE} (relative) by deviating alone (best found ${devMax.toExponential(2)})`);
        }
      }
      const ok = problems.length === 0;
      if (ok) compareOk++;

      // ---- baselines on the same trajectories ----
      let baselines: JsonObject | undefined;
      if (withBaselines) {
        baselines = {};
        for (const kind of ['ES', 'RS', 'NS', 'PS'] as const) {
          const b = staticBaseline(kind, cfg, ues, slot, common);
          const ps = evaluate(cfg, ues, b.servers, b.rows, tracks[kind].prevUsed, common);
          account(tracks[kind], ps);
          baselines[kind] = { C: ps.C, latency: ps.latency, migrations: ps.migrations };
        }
        const t = tracks.NoG;
        const empty = new Array<number>(cfg.M).fill(0);
        const rows = ues.map((u, i) => {
          const r = bestResponse(cfg.br, brProblem(u, cfg.V, cfg.b, t.Z, othersOf(empty, u.servers, undefined)), cfg.psi, cfg.gamma, sigmaNoG[i]);
          sigmaNoG[i] = r.sigma;
          return r.x;
        });
        const Zn = t.Z;
        const ps = evaluate(cfg, ues, servers, rows, t.prevUsed, common);
        account(t, ps);
        baselines.NoG = { C: ps.C, latency: ps.latency, migrations: ps.migrations, Z: Zn };
      }
      run.last = { game, ues, ne: nePs, Z };
      const reference: JsonObject = {
        Z,
        Znext: ne.Z,
        C: nePs.C,
        Cexec: nePs.Cexec,
        latency: nePs.latency,
        latencySmooth: nePs.latencySmooth,
        migrations: nePs.migrations,
        gameRounds: game.rounds,
        converged: game.converged,
        loops: game.loops,
        deviationMax: devMax,
        deviationBound: devBound,
      };
      return { reference, baselines, compare: { ok, gap, note: problems.length ? problems.join('; ') : undefined, against: COMPARED_AGAINST } };
    },
    finish(): JsonObject {
      const T = Math.max(1, slots);
      const policies: JsonObject = {};
      for (const p of POLICIES) {
        const t = tracks[p];
        if (p !== 'NE' && !withBaselines) continue;
        policies[p] = {
          energy: t.energy / T,
          latency: t.latency / T,
          latencySmooth: t.latencySmooth / T,
          migrations: t.migrations,
          Zmean: t.Zsum / T,
          Zmax: t.Zmax,
          Zfinal: t.Z,
          budgetMet: t.energy / T <= cfg.cbar,
          overBudgetSlots: t.overBudgetSlots,
          bindingFraction: t.boundSlots / T,
        };
      }
      const out: JsonObject = {
        slots,
        cbar: cfg.cbar,
        V: cfg.V,
        policies,
        game: {
          roundsMean: roundsSum / T,
          roundsMax,
          notConverged,
          loopsPerBr: brCalls ? loopsSum / brCalls : 0,
          deviationWorst: devWorst,
          deviationFailSlots: devFailSlots,
          deviationFailFraction: devFailSlots / T,
        },
        slotsMatchingReference: compareOk,
      };
      if (withBaselines) {
        const ne = tracks.NE.energy;
        const others = POLICIES.filter((p) => p !== 'NE');
        const overBudget = POLICIES.filter((p) => tracks[p].energy / T > cfg.cbar);
        const perPolicy = (k: 'energy' | 'latency', unit: string) => POLICIES.map((p) => n(`${p} mean ${k} per slot`, tracks[p][k] / T, unit));
        const claims: Claim[] = [
          claim('ne-lowest-energy', 'the Nash-equilibrium policy (NE) spends the least energy of the six policies', others.every((p) => ne <= tracks[p].energy), [...perPolicy('energy', 'J'), n('budget C̄', cfg.cbar, 'J')], overBudget.length ? `over the budget on average: ${overBudget.join(', ')}` : 'every policy meets the budget on average'),
          claim('ne-highest-latency', 'NE has the highest latency of the six policies (it trades latency for energy)', others.every((p) => tracks.NE.latency >= tracks[p].latency), perPolicy('latency', 's')),
        ];
        out.claims = claims as unknown as Json;
        out.overBudget = overBudget;
      }
      // Fig. 7/8: the same game over the same slots at each budget of the sweep
      if (withSweep && slots > 0) out.budgetSweep = CBAR_SWEEP.map((cbar) => budgetSweepRow(cfg, cbar, slots));
      return out;
    },
  };
  return run;
}
