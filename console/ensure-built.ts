// Builds dist/console when it is missing or older than any file under console/, so that
// `npm install && npm start` serves the console with no extra step. Run directly by `npm start`;
// the end-to-end tests' global setup calls ensureConsoleBuilt().
import { readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const consoleDir = fileURLToPath(new URL('.', import.meta.url));
const builtIndex = resolve(consoleDir, '../dist/console/index.html');

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs);
  }
  return newest;
}

export function consoleIsStale(): boolean {
  let built: number;
  try {
    built = statSync(builtIndex).mtimeMs;
  } catch {
    return true;
  }
  return newestMtime(consoleDir) > built;
}

export async function ensureConsoleBuilt(log: (line: string) => void = console.log): Promise<void> {
  if (!consoleIsStale()) return;
  log('Building the console into dist/console (it is missing or older than console/)…');
  const { build } = await import('vite');
  await build({ configFile: join(consoleDir, 'vite.config.ts'), logLevel: 'warn' });
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await ensureConsoleBuilt();
}
