// SPDX-License-Identifier: Apache-2.0
// The rest of the JS SDK through tollgate: calls the pass-through takes to the
// upstream, the event list, and errors: the upstream's problem and tollgate's own.
import { client, failure, report } from './common.mjs';

const om = client();
const result = {};
result.meters = await om.meters.list();
result.query = await om.meters.query('tokens', { from: new Date('2024-01-01T00:00:00Z'), windowSize: 'HOUR',
                                                 subject: ['customer-1'] });
result.queryPost = await om.meters.queryPost('tokens', { windowSize: 'HOUR', subject: ['customer-1'] });
result.customer = await om.customers.get('c-1');
result.portal = await om.portal.create({ subject: 'customer-1' });
result.events = await om.events.list({ limit: 5 });
try {
  await om.meters.get('missing');
  result.upstreamError = null;
} catch (e) {
  result.upstreamError = failure(e);
}
try {
  await om.events.ingest({ id: 'no-subject', source: 'svc', type: 'prompt' });
  result.tollgateError = null;
} catch (e) {
  result.tollgateError = failure(e);
}
report(result);
