// Files the server reads at run time (drizzle/, dist/console) are found from the project root:
// the nearest directory above this module that holds a package.json. The same code then works
// from src/ (tsx), from the bundle in dist/server/ and from /app in the image.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

function findRoot(): string {
  const start = dirname(fileURLToPath(import.meta.url));
  for (let dir = start; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    if (dirname(dir) === dir) return start;
  }
}

export const projectRoot = findRoot();

export function fromProjectRoot(...segments: string[]): string {
  return join(projectRoot, ...segments);
}
