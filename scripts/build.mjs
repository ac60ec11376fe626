// `npm run build`: the server (src/ → dist/server/main.js, one esbuild bundle; packages stay in
// node_modules and drizzle/ is read at run time) and the console (console/ → dist/console, vite).
//   node scripts/build.mjs                 both
//   node scripts/build.mjs --server        the server only (what tests and the image's CMD need)
//   node scripts/build.mjs --if-stale      only what is missing or older than its sources
// Plain JavaScript: `npm start` runs it with node, before any TypeScript tooling is loaded.
import { readdirSync, renameSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const serverEntry = join(root, 'dist', 'server', 'main.js');
const consoleIndex = join(root, 'dist', 'console', 'index.html');

function newestMtime(path) {
  const stat = statSync(path, { throwIfNoEntry: false });
  if (!stat) return 0;
  if (!stat.isDirectory()) return stat.mtimeMs;
  let newest = 0;
  for (const entry of readdirSync(path)) newest = Math.max(newest, newestMtime(join(path, entry)));
  return newest;
}

function isStale(output, sources) {
  const built = statSync(output, { throwIfNoEntry: false })?.mtimeMs;
  return built === undefined || sources.some((s) => newestMtime(join(root, s)) > built);
}

export const serverIsStale = () => isStale(serverEntry, ['src', 'package.json', 'scripts/build.mjs']);
export const consoleIsStale = () => isStale(consoleIndex, ['console']);

export async function buildServer() {
  const { build } = await import('esbuild');
  const result = await build({
    entryPoints: [join(root, 'src', 'main.ts')],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    sourcemap: 'linked',
    outfile: serverEntry,
    write: false,
    logLevel: 'warning',
  });
  mkdirSync(dirname(serverEntry), { recursive: true });
  // Written beside and renamed: a process starting meanwhile never reads half a file.
  for (const file of result.outputFiles) {
    const temporary = `${file.path}.${process.pid}.tmp`;
    writeFileSync(temporary, file.contents);
    renameSync(temporary, file.path);
  }
}

export async function buildConsole() {
  const { build } = await import('vite');
  await build({ configFile: join(root, 'console', 'vite.config.ts'), logLevel: 'warn' });
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = new Set(process.argv.slice(2));
  const ifStale = args.has('--if-stale');
  const only = args.has('--server') ? 'server' : args.has('--console') ? 'console' : undefined;
  if (only !== 'console' && (!ifStale || serverIsStale())) {
    if (ifStale) console.log('Building the server into dist/server (it is missing or older than src/)…');
    await buildServer();
  }
  if (only !== 'server' && (!ifStale || consoleIsStale())) {
    if (ifStale) console.log('Building the console into dist/console (it is missing or older than console/)…');
    await buildConsole();
  }
}
