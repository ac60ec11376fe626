// Summarises a V8 .cpuprofile (node --cpu-prof): self time by function, self time by package
// (node_modules/<pkg>, src/<file>, node internals, GC), and inclusive time of the service's
// own functions. `npm run bench -- --cpu-prof` prints it for the server; standalone:
//   npx tsx bench/profile.ts path/to/file.cpuprofile [top]
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { byStage } from './profile-stages.ts';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  hitCount?: number;
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

export interface ProfileEntry {
  name: string;
  where: string;
  selfMs: number;
  selfPct: number;
}

function where(url: string): { file: string; pkg: string } {
  if (!url) return { file: '', pkg: '(native/vm)' };
  const clean = url.replace(/^file:\/\//, '');
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)\/(.*)$/.exec(clean);
  if (nm) return { file: `${nm[1]}/${nm[2]}`, pkg: nm[1]! };
  const src = /\/(src|bench)\/(.*)$/.exec(clean);
  if (src) return { file: `${src[1]}/${src[2]}`, pkg: `${src[1]}/${src[2]}` };
  if (clean.startsWith('node:')) return { file: clean, pkg: 'node:internal' };
  return { file: clean, pkg: clean };
}

export function summarizeProfile(
  path: string,
  top = 25,
): { text: string; top: ProfileEntry[]; byPackage: ProfileEntry[]; byStage: ProfileEntry[]; inclusive: ProfileEntry[]; totalMs: number } {
  const profile = JSON.parse(readFileSync(path, 'utf8')) as Profile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i]!;
    selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  }
  const totalUs = [...selfUs.values()].reduce((a, b) => a + b, 0);
  const idleUs = [...selfUs.entries()].filter(([id]) => byId.get(id)?.callFrame.functionName === '(idle)').reduce((a, [, v]) => a + v, 0);
  const busyUs = totalUs - idleUs;
  const key = (n: ProfileNode) => {
    const w = where(n.callFrame.url);
    return `${n.callFrame.functionName || '(anonymous)'}\u0000${w.file}:${n.callFrame.lineNumber + 1}`;
  };
  const fn = new Map<string, number>();
  const pkg = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const n = byId.get(id)!;
    if (n.callFrame.functionName === '(idle)') continue;
    fn.set(key(n), (fn.get(key(n)) ?? 0) + us);
    const p = n.callFrame.url ? where(n.callFrame.url).pkg : n.callFrame.functionName || '(native/vm)';
    pkg.set(p, (pkg.get(p) ?? 0) + us);
  }
  // Inclusive time of src/ functions (recursion counted once).
  const inclusive = new Map<string, number>();
  const rootId = profile.nodes[0]!.id;
  const subtree = new Map<number, number>();
  const total = (id: number): number => {
    const cached = subtree.get(id);
    if (cached !== undefined) return cached;
    const n = byId.get(id)!;
    let t = n.callFrame.functionName === '(idle)' ? 0 : selfUs.get(id) ?? 0;
    for (const c of n.children ?? []) t += total(c);
    subtree.set(id, t);
    return t;
  };
  const walk = (id: number, open: Set<string>) => {
    const n = byId.get(id)!;
    const k = key(n);
    const mine = /\u0000src\//.test(k) && !open.has(k);
    if (mine) inclusive.set(k, (inclusive.get(k) ?? 0) + total(id));
    if (mine) open.add(k);
    for (const c of n.children ?? []) walk(c, open);
    if (mine) open.delete(k);
  };
  // Iterative depth is fine for profiles (a few hundred levels at most).
  walk(rootId, new Set());

  const entries = (m: Map<string, number>, n: number): ProfileEntry[] =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([k, us]) => {
        const [name, at] = k.split('\u0000');
        return { name: name!, where: at ?? '', selfMs: Math.round(us / 100) / 10, selfPct: Math.round((us / busyUs) * 1000) / 10 };
      });
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const stages = [...byStage(selfUs, parent, (id) => byId.get(id)!.callFrame).entries()]
    .sort((a, b) => b[1] - a[1])
    .map(([name, us]) => ({ name, where: '', selfMs: Math.round(us / 100) / 10, selfPct: Math.round((us / busyUs) * 1000) / 10 }));
  const topFns = entries(fn, top);
  const byPackage = entries(pkg, 20);
  const incl = entries(inclusive, 20);
  const pad = (s: string, w: number) => (s.length > w ? s.slice(0, w - 1) + '…' : s.padEnd(w));
  const lines = [
    `busy ${Math.round(busyUs / 1000)} ms of ${Math.round(totalUs / 1000)} ms sampled (${Math.round((busyUs / totalUs) * 100)} %)`,
    '  self%  self ms  function                                  where',
    ...topFns.map((e) => `  ${String(e.selfPct).padStart(5)}  ${String(Math.round(e.selfMs)).padStart(7)}  ${pad(e.name, 40)}  ${e.where}`),
    '',
    '  by package / file (self):',
    ...byPackage.map((e) => `  ${String(e.selfPct).padStart(5)}  ${String(Math.round(e.selfMs)).padStart(7)}  ${e.name}`),
    '',
    '  by stage (see bench/profile-stages.ts):',
    ...stages.map((e) => `  ${String(e.selfPct).padStart(5)}  ${String(Math.round(e.selfMs)).padStart(7)}  ${e.name}`),
    '',
    '  service functions (inclusive):',
    ...incl.map((e) => `  ${String(e.selfPct).padStart(5)}  ${String(Math.round(e.selfMs)).padStart(7)}  ${pad(e.name, 40)}  ${e.where}`),
  ];
  return { text: lines.join('\n'), top: topFns, byPackage, byStage: stages, inclusive: incl, totalMs: Math.round(totalUs / 1000) };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const file = process.argv[2];
  if (!file) {
    process.stderr.write('usage: tsx bench/profile.ts <file.cpuprofile> [top]\n');
    process.exit(2);
  }
  process.stdout.write(summarizeProfile(file, Number(process.argv[3] ?? 40)).text + '\n');
}
