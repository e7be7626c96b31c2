// SPDX-License-Identifier: Apache-2.0
// Shared by the SDK scripts: the OpenMeter client pointed at tollgate, with a
// fetch that keeps the exact body of every request it sends, so the test can
// compare bytes sent with bytes that reached the upstream.
import { OpenMeter } from '@openmeter/sdk';

export const base = process.env.TG_BASE;
export const apiKey = process.env.TG_API_KEY;
export const sent = [];

export function client() {
  return new OpenMeter({
    baseUrl: base,
    apiKey,
    fetch: async (request) => {
      sent.push({ method: request.method, url: request.url, contentType: request.headers.get('content-type'),
                  body: request.body ? await request.clone().text() : null });
      return fetch(request);
    },
  });
}

// What an SDK call threw, as the test reads it.
export function failure(e) {
  return { name: e.name, status: e.status, message: e.message, title: e.title, detail: e.getField ? e.getField('detail') : undefined };
}

export function report(result) {
  process.stdout.write(JSON.stringify({ result, sent }) + '\n');
}
