// Builds dist/console before the browser tests when it is missing or older than console/.
import { ensureConsoleBuilt } from '../../console/ensure-built.ts';

export default async function setup(): Promise<void> {
  await ensureConsoleBuilt(() => {});
}
