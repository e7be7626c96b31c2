// SPDX-License-Identifier: Apache-2.0
// Ingest through tollgate with the official JS SDK: single calls, arrays, and
// events the SDK fills in (id, source, specversion, time).
import { client, report } from './common.mjs';

const om = client();
const rounds = Number(process.env.TG_ROUNDS || '5');
const result = { calls: 0 };
for (let r = 0; r < rounds; r++) {
  // Everything given.
  await om.events.ingest({ id: `full-${r}`, source: 'my-app', specversion: '1.0', type: 'prompt',
                           subject: 'customer-1', time: new Date(Date.UTC(2024, 4, 1, 12, 0, r)),
                           data: { tokens: r, model: 'gpt-4' } });
  // Only what the SDK cannot fill in.
  await om.events.ingest({ type: 'prompt', subject: `customer-${r}`, data: { tokens: 100 + r } });
  // Arrays: with ids, and SDK-filled.
  await om.events.ingest(Array.from({ length: 40 }, (_, i) => ({
    id: `arr-${r}-${i}`, source: 'batcher', type: 'api-calls', subject: 'customer-2',
    data: { duration_ms: String(i), path: '/x', note: 'ünïcødé "quoted" \\ and \u2028' } })));
  await om.events.ingest(Array.from({ length: 50 }, (_, i) => ({ type: 'api-calls', subject: `c-${i % 7}`,
                                                                  data: { n: i } })));
  result.calls += 4;
}
report(result);
