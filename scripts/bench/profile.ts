/*
 * A V8 CPU profile (.cpuprofile, as `node --cpu-prof` or the inspector writes it) summarized by self
 * time: the top functions and the top modules (an npm package, a project file, or Node's internals).
 * Alone: `npx tsx scripts/bench/profile.ts <file.cpuprofile>`.
 */
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { REPO_ROOT } from './ipc.js';

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { functionName: string; url: string; lineNumber: number };
  readonly hitCount?: number;
  readonly children?: number[];
}

interface CpuProfile {
  readonly nodes: ProfileNode[];
  readonly startTime: number;
  readonly endTime: number;
  readonly samples?: number[];
  readonly timeDeltas?: number[];
}

export interface ProfileLine {
  readonly name: string;
  readonly ms: number;
  readonly share: number;
}

export interface ProfileSummary {
  readonly totalMs: number;
  readonly functions: ProfileLine[];
  readonly modules: ProfileLine[];
  /** Self time charged to the nearest package or project frame up the stack (native and node: frames). */
  readonly owners: ProfileLine[];
}

/** The module of a script URL: `pkg` or `@scope/pkg` under node_modules, a project path, `node:*`. */
export function moduleOf(url: string): string {
  if (url === '') return '(native / V8)';
  if (url.startsWith('node:')) return url;
  const path = url.replace(/^file:\/\//, '');
  const packages = path.split('/node_modules/');
  if (packages.length > 1) {
    const last = packages.at(-1) ?? '';
    const parts = last.split('/');
    return parts[0]?.startsWith('@') ? `${parts[0]}/${parts[1]}` : (parts[0] ?? last);
  }
  return path.startsWith(REPO_ROOT) ? path.slice(REPO_ROOT.length) : path;
}

export function summarizeProfile(file: string, top = 15): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const selfMs = new Map<number, number>();
  const { samples = [], timeDeltas = [] } = profile;
  // Each sample's time is the delta to the next one (the last gets the mean).
  const mean = timeDeltas.length ? timeDeltas.reduce((a, b) => a + b, 0) / timeDeltas.length : 0;
  samples.forEach((id, index) => {
    const delta = (timeDeltas[index + 1] ?? mean) / 1000;
    selfMs.set(id, (selfMs.get(id) ?? 0) + delta);
  });
  const totalMs = [...selfMs.values()].reduce((a, b) => a + b, 0);
  const byFunction = new Map<string, number>();
  const byModule = new Map<string, number>();
  const byOwner = new Map<string, number>();
  const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
  const parents = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parents.set(child, node.id);
  const owners = new Map<number, string>();
  const ownerOf = (id: number): string => {
    const known = owners.get(id);
    if (known) return known;
    const node = nodes.get(id);
    const url = node?.callFrame.url ?? '';
    const parent = parents.get(id);
    let owner: string;
    if (url !== '' && !url.startsWith('node:')) owner = moduleOf(url);
    else if (parent === undefined || nodes.get(parent)?.callFrame.functionName === '(root)')
      owner = node?.callFrame.functionName || '(native / V8)';
    else owner = ownerOf(parent);
    owners.set(id, owner);
    return owner;
  };
  for (const node of profile.nodes) {
    const ms = selfMs.get(node.id) ?? 0;
    if (ms === 0) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    const module = moduleOf(url);
    const name = url
      ? `${functionName || '(anonymous)'}  ${module}:${lineNumber + 1}`
      : functionName || '(anonymous)';
    byFunction.set(name, (byFunction.get(name) ?? 0) + ms);
    const moduleKey = url ? module : `${functionName}`;
    byModule.set(moduleKey, (byModule.get(moduleKey) ?? 0) + ms);
    const owner = ownerOf(node.id);
    byOwner.set(owner, (byOwner.get(owner) ?? 0) + ms);
  }
  const lines = (map: Map<string, number>) =>
    [...map]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, ms]) => ({ name, ms, share: totalMs ? ms / totalMs : 0 }));
  return { totalMs, functions: lines(byFunction), modules: lines(byModule), owners: lines(byOwner) };
}

export function formatProfile(summary: ProfileSummary): string {
  const format = (line: ProfileLine) =>
    `  ${(line.share * 100).toFixed(1).padStart(5)}%  ${line.ms.toFixed(0).padStart(7)} ms  ${line.name}`;
  return [
    `CPU profile: ${summary.totalMs.toFixed(0)} ms sampled`,
    ' by owner (self time; native and node: frames charged to the nearest package or project caller):',
    ...summary.owners.map(format),
    ' top modules by self time:',
    ...summary.modules.map(format),
    ' top functions by self time:',
    ...summary.functions.map(format),
  ].join('\n');
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const file = process.argv[2];
  if (!file) throw new Error('usage: tsx scripts/bench/profile.ts <file.cpuprofile>');
  console.log(formatProfile(summarizeProfile(file, 20)));
}
