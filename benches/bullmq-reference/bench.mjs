// BullMQ reference for `lifesync bench queue`: the same workload (N no-op jobs enqueued one by
// one, N in bulk, all 2N processed by one worker at concurrency C) against the same Redis.
// Usage: node bench.mjs --jobs N --concurrency C   (REDIS_URL, default redis://127.0.0.1:6379)
// Last line: `bullmq: enqueued_per_s=<n> batch_enqueued_per_s=<n> processed_per_s=<n>`.
import { Queue, Worker } from 'bullmq';
import IORedis from 'ioredis';

const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const jobs = arg('jobs', 100000);
const concurrency = arg('concurrency', 32);
const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const clients = [];
const connect = () => {
  const c = new IORedis(url, { maxRetriesPerRequest: null });
  clients.push(c);
  return c;
};
const prefix = `lifesync-bullmq-${Date.now()}`;
const name = 'bench';

const queue = new Queue(name, { connection: connect(), prefix });
const opts = { removeOnComplete: true, removeOnFail: true };

let t = performance.now();
for (let n = 0; n < jobs; n++) await queue.add('noop', { n }, opts);
const enqueued = jobs / ((performance.now() - t) / 1000);
console.error(`bullmq: ${enqueued.toFixed(0)} single enqueues/s`);

t = performance.now();
for (let start = 0; start < jobs; start += 500) {
  const batch = [];
  for (let n = start; n < Math.min(jobs, start + 500); n++) batch.push({ name: 'noop', data: { n }, opts });
  await queue.addBulk(batch);
}
const batched = jobs / ((performance.now() - t) / 1000);
console.error(`bullmq: ${batched.toFixed(0)} bulk enqueues/s`);

const total = 2 * jobs;
let done = 0;
t = performance.now();
const finished = new Promise((resolve) => {
  const worker = new Worker(name, async () => {}, { connection: connect(), prefix, concurrency });
  worker.on('completed', () => {
    if (++done === total) resolve(worker);
  });
});
const worker = await finished;
const processed = total / ((performance.now() - t) / 1000);
console.error(`bullmq: ${processed.toFixed(0)} processed/s`);
await worker.close();
await queue.obliterate({ force: true });
await queue.close();
for (const c of clients) c.disconnect();
console.log(`bullmq: enqueued_per_s=${enqueued.toFixed(0)} batch_enqueued_per_s=${batched.toFixed(0)} processed_per_s=${processed.toFixed(0)}`);
