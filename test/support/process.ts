// Child processes whose output tests read: stdout collected line by line, stderr as text.
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';

export interface Proc {
  child: ChildProcess;
  /** Complete stdout lines so far (the last, unterminated one is added when the process ends). */
  lines: string[];
  stderr: () => string;
  /** The exit code, or null when killed by a signal or not started. */
  exited: Promise<number | null>;
}

export function spawnLines(command: string, args: string[], options: Omit<SpawnOptions, 'stdio'> = {}): Proc {
  const child = spawn(command, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  let buffer = '';
  let err = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    buffer += chunk.toString('utf8');
    let nl: number;
    while ((nl = buffer.indexOf('\n')) >= 0) {
      lines.push(buffer.slice(0, nl));
      buffer = buffer.slice(nl + 1);
    }
  });
  child.stderr!.on('data', (chunk: Buffer) => (err += chunk.toString('utf8')));
  const exited = new Promise<number | null>((resolve) => {
    child.on('close', (code) => {
      if (buffer) lines.push(buffer);
      buffer = '';
      resolve(code);
    });
    child.on('error', () => resolve(null));
  });
  return { child, lines, stderr: () => err, exited };
}
