/**
 * The viewer-request function's source, for CloudFront Functions runtime
 * cloudfront-js-2.0: ES 5.1 plus the runtime's listed extras only (no
 * destructuring, spread, classes, for...of, Map/Set, optional chaining,
 * default parameters, and no `await` inside call arguments).
 *
 * `__NAME__` placeholders are filled in by the generator. Lines that are
 * only comments are dropped from the generated code.
 */

/** Headers and cookies of the viewer: strips spoofed internal headers, forwards the viewer's host. */
export const PRELUDE = `
var ZH = 'x-multizone-zone';
var FH = __FORWARD_HOST__;
function prepare(req) {
  var h = req.headers;
  // The zone header is ours alone: a viewer must not set it, or pick a cache entry with it.
  delete h[ZH];
  // Next.js server actions compare Origin with x-forwarded-host; the origin sees its own Host.
  if (FH && h.host) h['x-forwarded-host'] = { value: h.host.value };
  return h;
}
`;

/** Without a routing table the function only prepares headers. */
export const HANDLER_WITHOUT_ROUTES = `
function handler(event) {
  var req = event.request;
  try {
    prepare(req);
  } catch (e) {}
  return req;
}
`;

/** Routing: the table lives in the KeyValueStore, bucketed by first path segment. */
export const ROUTER = `
var crypto = require('crypto');
var kvs = cf.kvs();
// [zone name, origin id], the default zone first.
var Z = __ZONES__;
// Versioned key prefix: this code only ever reads the table it was generated with.
var P = __PREFIX__;
// Cookie whose value keeps a viewer in the same rollout bucket ('' = viewer IP only).
var BC = __BUCKET_COOKIE__;
// Flags a signed preview cookie may set for its holder.
var PV = __PREVIEW_FLAGS__;

// CloudFront path pattern match: * is any run of characters, ? exactly one.
function match(p, s) {
  var i = 0, j = 0, star = -1, mark = 0;
  while (j < s.length) {
    var c = p.charAt(i);
    if (i < p.length && (c === '?' || c === s.charAt(j))) { i++; j++; }
    else if (c === '*') { star = i++; mark = j; }
    else if (star >= 0) { i = star + 1; j = ++mark; }
    else return false;
  }
  while (p.charAt(i) === '*') i++;
  return i === p.length;
}

// A bucket's rows, following its chunks, and whether deeper buckets exist (flag 2); null when absent or unreadable.
async function rows(key) {
  var out = [], n = 0, v, deeper = 0;
  for (;;) {
    try {
      v = await kvs.get(P + key + (n ? '#' + n : ''), { format: 'json' });
    } catch (e) {
      return n ? { r: out, d: deeper } : null;
    }
    if (!Array.isArray(v)) return n ? { r: out, d: deeper } : null;
    out = out.concat(v.slice(1));
    deeper = v[0] & 2;
    if (!(v[0] & 1)) return { r: out, d: deeper };
    n++;
  }
}

// The viewer's rollout bucket for a flag, 0-99: a hash, so it is the same on every request.
function share(flag, req, ip) {
  var c = BC && req.cookies ? req.cookies[BC] : null;
  var id = c && c.value ? c.value : ip;
  return parseInt(crypto.createHash('sha1').update(flag + '|' + id).digest('hex').slice(0, 8), 16) % 100;
}

// Missing, unreadable or malformed flag values count as off.
async function flagOn(flag, req, ip) {
  var v;
  try {
    v = await kvs.get(flag, { format: 'string' });
  } catch (e) {
    return false;
  }
  if (v === 'on') return true;
  var m = /^(100|[1-9]?[0-9])%$/.exec(v);
  return m ? share(flag, req, ip) < +m[1] : false;
}

// Flag values of a valid preview cookie: entries '<flag>.<on|off>.<expiry s>.<hex HMAC-SHA256 of the rest>', comma-separated.
// The secret is read only when the cookie is there; anything unsigned, expired or malformed is ignored.
async function previews(req) {
  var out = {}, c = req.cookies ? req.cookies[__PREVIEW_COOKIE__] : null, s, e, m, i;
  if (!PV.length || !c || typeof c.value !== 'string') return out;
  try {
    s = await kvs.get(__PREVIEW_SECRET_KEY__, { format: 'string' });
  } catch (x) {
    return out;
  }
  if (typeof s !== 'string' || s.length < 32) return out;
  e = c.value.split(/,|%2C/i);
  for (i = 0; i < e.length && i < 10; i++) {
    m = /^([A-Za-z0-9][A-Za-z0-9._-]{0,127})\\.(on|off)\\.([0-9]{1,12})\\.([0-9a-f]{64})$/.exec(e[i]);
    if (m && PV.indexOf(m[1]) >= 0 && m[3] * 1000 > Date.now() &&
      crypto.createHmac('sha256', s).update(m[1] + '.' + m[2] + '.' + m[3]).digest('hex') === m[4]) out[m[1]] = m[2] === 'on';
  }
  return out;
}

// The zone index for the request, or -1 to leave the behavior's own origin.
async function route(req, ip) {
  var uri = typeof req.uri === 'string' ? req.uri : '';
  // The wildcard bucket always exists: failing to read it means the table is out of reach.
  var w = await rows('w');
  if (w === null || uri.charAt(0) !== '/') return -1;
  var list = w.r, segs = uri.split('/'), d = 1, key = 's:' + segs[1];
  // The buckets along the request's own path: the first segment's, then deeper ones while they exist.
  while (key.length <= 400) {
    var found = await rows(key);
    if (found === null) break;
    list = list.concat(found.r);
    d++;
    if (!found.d || d >= segs.length) break;
    key += '/' + segs[d];
  }
  if (list.length > 1) list.sort(function (a, b) { return a[0] - b[0]; });
  var base = 0, i, r, on, pv = null;
  for (i = 0; i < list.length; i++) {
    r = list[i];
    if (typeof r[3] === 'number' && match(r[1], uri)) {
      // Asset prefixes always stay with their zone.
      if (r[3] === 1) return r[2];
      base = r[2];
      break;
    }
  }
  for (i = 0; i < list.length; i++) {
    r = list[i];
    if (typeof r[3] === 'string' && match(r[1], uri)) {
      // A valid preview cookie decides its flags for its holder, whatever the store says.
      if (pv === null) pv = await previews(req);
      on = pv[r[3]];
      if (typeof on !== 'boolean') on = await flagOn(r[3], req, ip);
      if (on) return r[2];
    }
  }
  return base;
}

async function handler(event) {
  var req = event.request;
  try {
    var h = prepare(req);
    var z = await route(req, event.viewer && event.viewer.ip ? event.viewer.ip : '');
    if (Z[z]) {
      cf.selectRequestOriginById(Z[z][1]);
      h[ZH] = { value: Z[z][0] };
    }
  } catch (e) {}
  return req;
}
`;
