// SPDX-License-Identifier: Apache-2.0
// The CloudEvents JS SDK in structured mode, posting to tollgate's v1 ingest.
import { CloudEvent, HTTP } from 'cloudevents';

const base = process.env.TG_BASE;
const result = { answers: [], sent: [] };
for (let i = 0; i < 3; i++) {
  const ce = new CloudEvent({ id: `ce-${i}`, source: 'urn:cloudevents-sdk', type: 'prompt', subject: 'customer-9',
                              data: { tokens: i, text: 'structured mode' } });
  const message = HTTP.structured(ce);
  const resp = await fetch(`${base}/api/v1/events`, { method: 'POST', headers: message.headers, body: message.body });
  result.answers.push({ status: resp.status, contentType: resp.headers.get('content-type'), body: await resp.text() });
  result.sent.push({ contentType: message.headers['content-type'], body: message.body });
}
process.stdout.write(JSON.stringify({ result }) + '\n');
