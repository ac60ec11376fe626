// Preloaded into every server child (`node --import tsx --import <this> src/main.ts`): if the test
// process that started it dies without killing it (a crashed or timed-out worker), the server
// kills itself instead of living on as an orphan. It changes nothing else: one unref'd timer.
const parent = process.ppid;
setInterval(() => {
  if (process.ppid !== parent) process.kill(process.pid, 'SIGKILL');
}, 500).unref();
