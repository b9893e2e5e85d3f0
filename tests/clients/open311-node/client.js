'use strict';
// Drives the npm package open311 (0.0.12, codeforamerica/node-open311) against an Open311 GeoReport v2
// server and prints one JSON object with what each call returned.
//
//   node client.js <base URL, e.g. http://127.0.0.1:8000/open311/v2> [jurisdiction_id] [api_key]
//
// Format JSON, the module's default: its XML parsers cannot be installed here (see package.json's
// overrides and unavailable/*/index.js). Each call's error is reported as {error: ...} rather than thrown.
const Open311 = require('open311');

const [base, jurisdiction, apiKey] = process.argv.slice(2);
if (!base) {
  process.stderr.write('usage: node client.js <base URL> [jurisdiction_id] [api_key]\n');
  process.exit(2);
}
const endpoint = base.endsWith('/') ? base : `${base}/`;

function call(fn) {
  return new Promise((resolve) => {
    try {
      fn((err, data) => resolve(err ? { error: err, message: data } : { data }));
    } catch (exc) {
      resolve({ error: true, message: String(exc) });
    }
  });
}

async function main() {
  const options = { endpoint, discovery: `${endpoint}discovery.json` };
  if (jurisdiction) options.jurisdiction = jurisdiction;
  if (apiKey) options.apiKey = apiKey;
  const client = new Open311(options);
  const out = {};

  out.discovery = await call((cb) => client.serviceDiscovery(cb));
  out.services = await call((cb) => client.serviceList(cb));
  out.definition = await call((cb) => client.serviceDefinition('moi_truong', cb));
  out.created = await call((cb) => client.submitRequest({
    service_code: 'moi_truong',
    lat: '10.7725',
    long: '106.6980',
    address_string: 'phường Bến Thành, TP. Hồ Chí Minh',
    account_id: 'node-1',
    first_name: 'An',
    email: 'an.nguyen@gmail.com',
    description: 'Rác tràn ra đường (node-open311), liên hệ an.nguyen@gmail.com',
  }, cb));
  const rid = out.created.data && out.created.data[0] && out.created.data[0].service_request_id;
  if (rid) {
    out.one = await call((cb) => client.serviceRequest(rid, cb));
    out.listed = await call((cb) => client.serviceRequests([rid], cb));
    out.recent = await call((cb) => client.serviceRequests({ status: 'open', service_code: 'moi_truong' }, cb));
  }
  const wrongKey = new Open311({ ...options, apiKey: `hc_nobody_${'x'.repeat(40)}` });
  out.created_with_wrong_key = await call((cb) => wrongKey.submitRequest({
    service_code: 'moi_truong', address_string: 'phường Bến Thành', description: 'Rác tràn ra đường',
  }, cb));
  const elsewhere = new Open311({ ...options, jurisdiction: 'sfgov.org' });
  out.services_elsewhere = await call((cb) => elsewhere.serviceList(cb));

  process.stdout.write(`${JSON.stringify(out)}\n`);
}

main().catch((exc) => {
  process.stderr.write(`${exc && exc.stack ? exc.stack : exc}\n`);
  process.exit(1);
});
