/**
 * The edge functions' sources (viewer request: router, zone-flag decider,
 * host forwarder; viewer response: the visitor cookie), for CloudFront Functions runtime
 * cloudfront-js-2.0: ES 5.1 plus the runtime's listed extras only (no
 * destructuring, spread, classes, for...of, Map/Set, optional chaining,
 * default parameters, and no `await` inside call arguments).
 *
 * `__NAME__` placeholders are filled in by the generator. Lines that are
 * only comments are dropped from the generated code.
 */

/**
 * The request header carrying a copy of the viewer's `Authorization`: an
 * origin access control that signs overwrites `Authorization` itself, and
 * CloudFront drops it from GET and HEAD requests unless the cache key holds it.
 */
export const VIEWER_AUTHORIZATION_HEADER = 'x-viewer-authorization';

/** Headers and cookies of the viewer: strips spoofed internal headers, copies Authorization, forwards the viewer's host. */
export const PRELUDE = `
var ZH = 'x-multizone-zone';
var FL = __FLAGS_HEADER__;
var RH = __RELEASE_HEADER__;
var VA = '${VIEWER_AUTHORIZATION_HEADER}';
var FH = __FORWARD_HOST__;
function prepare(req) {
  var h = req.headers;
  // The zone, zone-flags, release and Authorization-copy headers are ours alone: a viewer must not set them, or pick a cache entry with them.
  delete h[ZH];
  delete h[FL];
  delete h[RH];
  delete h[VA];
  // Origin access control signing overwrites Authorization: the zone reads the viewer's own in VA.
  if (h.authorization) h[VA] = { value: h.authorization.value };
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

/**
 * The visitor id, shared by the functions that read it and the
 * viewer-response function that sets its cookie: a valid `mz-vid` cookie,
 * else an id derived from the request id, which the viewer-request and the
 * viewer-response event of one request both carry ("CloudFront Functions
 * event structure": it "uniquely identifies a CloudFront request (and its
 * associated response)"), so both functions name the same new id without
 * any state.
 */
export const VISITOR_ID = `
var VC = __VISITOR_COOKIE__;
var VID = /^[0-9a-f]{32}$/;
// The viewer's own visitor id, or '' when its cookie is missing or not one the edge wrote.
function held(req) {
  var c = VC && req.cookies ? req.cookies[VC] : null;
  return c && VID.test(c.value) ? c.value : '';
}
// A new visitor's id for this request ('' without a request id).
function fresh(event) {
  var r = event.context ? event.context.requestId : '';
  return r ? crypto.createHash('sha1').update('mz-vid|' + r).digest('hex').slice(0, 32) : '';
}
`;

/** Flag decisions, shared by the router and the zone-flag decider: one store read per flag a request, at most. */
export const FLAG_DECISIONS = `
var crypto = require('crypto');
var kvs = cf.kvs();
// Cookie whose value keeps a viewer in the same rollout bucket ('' = the visitor id, else the viewer IP).
var BC = __BUCKET_COOKIE__;
// Flags a signed preview cookie may set for its holder.
var PV = __PREVIEW_FLAGS__;
// Zone flags, sorted by name: decided on every page request and forwarded in FL.
var ZF = __ZONE_FLAGS__;
${VISITOR_ID}
// The viewer's rollout identity: the bucket cookie, else the visitor id (held or fresh), else the viewer IP.
function who(event) {
  var req = event.request, ip = event.viewer && event.viewer.ip ? event.viewer.ip : '', c;
  if (BC) {
    c = req.cookies ? req.cookies[BC] : null;
    return c && c.value ? c.value : ip;
  }
  return (VC && (held(req) || fresh(event))) || ip;
}

// The viewer's rollout bucket for a flag, 0-99: a hash, so it is the same on every request.
function share(flag, id) {
  return parseInt(crypto.createHash('sha1').update(flag + '|' + id).digest('hex').slice(0, 8), 16) % 100;
}

// Missing, unreadable or malformed flag values count as off.
async function flagOn(flag, st) {
  var v;
  try {
    v = await kvs.get(flag, { format: 'string' });
  } catch (e) {
    return false;
  }
  if (v === 'on') return true;
  var m = /^(100|[1-9]?[0-9])%$/.exec(v);
  if (!m) return false;
  if (st.id === null) st.id = who(st.event);
  return share(flag, st.id) < +m[1];
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
  // Split on plain commas: njs allocates per character for a split on a regular expression.
  e = c.value.replace(/%2C/gi, ',').split(',');
  for (i = 0; i < e.length && i < 10; i++) {
    m = /^([A-Za-z0-9][A-Za-z0-9._-]{0,127})\\.(on|off)\\.([0-9]{1,12})\\.([0-9a-f]{64})$/.exec(e[i]);
    if (m && PV.indexOf(m[1]) >= 0 && m[3] * 1000 > Date.now() &&
      crypto.createHmac('sha256', s).update(m[1] + '.' + m[2] + '.' + m[3]).digest('hex') === m[4]) out[m[1]] = m[2] === 'on';
  }
  return out;
}

// A valid preview cookie decides its flags for its holder; each other flag is read once, whoever asks (routing or ZF).
async function decide(st, flag) {
  if (st.pv === null) st.pv = await previews(st.event.request);
  var on = st.pv[flag];
  if (typeof on !== 'boolean') on = st.seen['f' + flag];
  if (typeof on !== 'boolean') on = st.seen['f' + flag] = await flagOn(flag, st);
  return on;
}

// The zone-flags header value: 'name=on' or 'name=off' for each zone flag, comma-separated.
async function zoneFlags(st) {
  var out = [], i, on;
  for (i = 0; i < ZF.length; i++) {
    on = await decide(st, ZF[i]);
    out.push(ZF[i] + (on ? '=on' : '=off'));
  }
  return out.join(',');
}

// One request's decisions: its viewer id once needed, preview values, flags read, and whether an asset route matched.
function state(event) {
  return { event: event, id: null, pv: null, seen: {}, fixed: false };
}
`;

/** CloudFront's path pattern match, for the functions that match patterns themselves. */
export const MATCH = `
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
`;

/** Routing: the table lives in the KeyValueStore, bucketed by path segment (kvs-table.ts). */
export const ROUTER = `
// The default zone, [name, origin id]; the table values carry the other zones they name.
var D = __DEFAULT_ZONE__;
// Versioned key prefix: this code only ever reads the table it was generated with.
var P = __PREFIX__;
// Buckets of the first path segment, and the most table values a request may read.
var NB = __BUCKETS__, MR = __MAX_READS__;

// The bucket of a path segment among n, as the table was laid out (segmentBucket).
function bucket(s, n) {
  var h = 0, i;
  for (i = 0; i < s.length; i++) h = (h * 31 + s.charCodeAt(i)) % 1000003;
  return h % n;
}

// Adds one bucket's values (a first one and its chunks) to t: rows, zones, and this level's splits.
// False when a value is missing, unreadable or past the read budget: every key read is one the table wrote.
async function read(key, t) {
  var n = 0, v, k;
  t.s = {};
  for (;;) {
    if (++t.n > MR) return false;
    try {
      v = await kvs.get(P + key + (n ? '|' + n : ''), { format: 'json' });
    } catch (e) {
      return false;
    }
    if (!Array.isArray(v) || v.length < 3) return false;
    for (k in v[1]) t.s[k] = v[1][k];
    for (k in v[2]) t.z[k] = v[2][k];
    t.r = t.r.concat(v.slice(3));
    if (!(v[0] & 1)) return true;
    n++;
  }
}

// The zone for the request as [name, origin id], or null to leave the behavior's own origin.
async function route(req, st) {
  var uri = typeof req.uri === 'string' ? req.uri : '';
  if (uri.charAt(0) !== '/') return null;
  var segs = uri.split('/'), t = { r: [], z: {}, s: null, n: 0 }, d = 1, path = '', key = 'b' + bucket(segs[1], NB), n;
  for (;;) {
    if (!(await read(key, t))) return null;
    // Rows of this segment with a longer literal path sit in n buckets of their own, by the next segment.
    n = t.s[segs[d]];
    if (typeof n !== 'number' || d + 1 >= segs.length) break;
    path += (d > 1 ? '/' : '') + segs[d];
    d++;
    key = 's:' + path + '#' + bucket(segs[d], n);
  }
  var list = t.r, base = 0, i, r, on;
  if (t.n > 1) list.sort(function (a, b) { return a[0] - b[0]; });
  for (i = 0; i < list.length; i++) {
    r = list[i];
    if (typeof r[3] === 'number' && match(r[1], uri)) {
      // Assets (and any route but a page) always stay with their zone, and carry no zone flags.
      if (r[3] === 1) {
        st.fixed = true;
        return r[2] ? t.z[r[2]] : D;
      }
      base = r[2];
      break;
    }
  }
  for (i = 0; i < list.length; i++) {
    r = list[i];
    if (typeof r[3] === 'string' && match(r[1], uri)) {
      // Each flag is read once a request, however many of its patterns match.
      on = await decide(st, r[3]);
      if (on) return r[2] ? t.z[r[2]] : D;
    }
  }
  return base ? t.z[base] : D;
}

async function handler(event) {
  var req = event.request;
  try {
    var h = prepare(req), st = state(event), z = await route(req, st), v;
    if (Array.isArray(z) && typeof z[0] === 'string' && typeof z[1] === 'string') {
      cf.selectRequestOriginById(z[1]);
      h[ZH] = { value: z[0] };
      __RELEASE_STEP__
    }
    if (ZF.length && !st.fixed) {
      v = await zoneFlags(st);
      h[FL] = { value: v };
    }
  } catch (e) {}
  return req;
}
`;

/** Pages no flag can move, on a site with zone flags: the decisions alone, no routing table read. */
export const FLAG_DECIDER = `
async function handler(event) {
  var req = event.request;
  try {
    var h = prepare(req), v = await zoneFlags(state(event));
    h[FL] = { value: v };
  } catch (e) {}
  return req;
}
`;

/**
 * Viewer response: the visitor id the request was decided with, on every
 * response, so the cookie's lifetime starts again at each visit: a viewer
 * that came with a valid one gets it back unchanged, one that came without
 * gets the id its request was bucketed by.
 */
export const VISITOR_COOKIE = `
var crypto = require('crypto');
${VISITOR_ID}
function handler(event) {
  var res = event.response;
  try {
    var id = held(event.request) || fresh(event);
    if (id) {
      if (!res.cookies) res.cookies = {};
      res.cookies[VC] = { value: id, attributes: __VISITOR_COOKIE_ATTRIBUTES__ };
    }
  } catch (e) {}
  return res;
}
`;
