/**
 * Release routing at the edge, for CloudFront Functions runtime
 * cloudfront-js-2.0 (the limits in router-source.ts apply): which release
 * of a zone answers a request, read from the zone's release record
 * (lib/releases/record.ts) in one store read, and the origin set to it.
 * Joined to the router (for the zones it routes to) and to the zone
 * release function (for the behaviors of one zone with releases).
 *
 * `__NAME__` placeholders are filled in by the generator. Lines that are
 * only comments are dropped from the generated code.
 */

/** Picks the release and sets its origin; needs FLAG_DECISIONS (kvs, crypto, who, share). */
export const RELEASES = `
// Prefix of the zones' release record keys, the zones with releases, the preview cookie (RH, the header carrying the release picked, is the prelude's).
var RK = __RELEASE_PREFIX__, RZ = __RELEASE_ZONES__, RC = __RELEASE_COOKIE__;
var RID = /^[A-Za-z0-9_.-]{1,64}$/;
var RO = /^(https?):\\/\\/([A-Za-z0-9.-]+)(?::([0-9]{1,5}))?(\\/[^?#]*)?$/;
// The deployment id the viewer's page was built with: Next.js sends x-deployment-id, and ?dpl= on assets.
function asked(req) {
  var h = req.headers['x-deployment-id'], q = req.querystring ? req.querystring.dpl : null, v = h ? h.value : q ? q.value : '';
  return typeof v === 'string' && RID.test(v) ? v : '';
}
// The preview a valid cookie entry '<zone>.<id>.<expiry s>.<hex HMAC-SHA256 of the rest>' names for zone z, or ''.
function previewed(req, rec, z) {
  var c = req.cookies ? req.cookies[RC] : null, e, m, i;
  if (!c || typeof c.value !== 'string' || typeof rec.s !== 'string' || !Array.isArray(rec.p)) return '';
  // Split on plain commas: njs allocates per character for a split on a regular expression.
  e = c.value.replace(/%2C/gi, ',').split(',');
  for (i = 0; i < e.length && i < 10; i++) {
    m = /^([a-z0-9-]{1,64})\\.([A-Za-z0-9_.-]{1,64})\\.([0-9]{1,12})\\.([0-9a-f]{64})$/.exec(e[i]);
    if (m && m[1] === z && rec.p.indexOf(m[2]) >= 0 && typeof rec.r[m[2]] === 'string' && m[3] * 1000 > Date.now() &&
      crypto.createHmac('sha256', rec.s).update(m[1] + '.' + m[2] + '.' + m[3]).digest('hex') === m[4]) return m[2];
  }
  return '';
}
// The release for a request: its preview, else the live release it names, else the canary for its share of viewers, else the current one.
function pick(req, rec, z, st) {
  var id = previewed(req, rec, z), k = rec.k;
  if (id) return id;
  id = asked(req);
  if (id && typeof rec.r[id] === 'string' && !(Array.isArray(rec.p) && rec.p.indexOf(id) >= 0) &&
    (id === rec.c || (Array.isArray(k) && k[0] === id) || (rec.u && rec.u[id] * 1000 > Date.now()))) return id;
  if (Array.isArray(k) && typeof rec.r[k[0]] === 'string' && k[1] > 0) {
    if (st.id === null) st.id = who(st.event);
    if (share('mz-release|' + z + '|' + k[0], st.id) < k[1]) return k[0];
  }
  return rec.c;
}
// Sends the request to a release of zone z; a missing or damaged record leaves the zone's own origin.
async function release(req, st, z) {
  var rec, id, o, m;
  try {
    rec = await kvs.get(RK + z, { format: 'json' });
  } catch (e) {
    return;
  }
  if (!rec || typeof rec.c !== 'string' || typeof rec.r !== 'object' || rec.r === null) return;
  id = pick(req, rec, z, st);
  o = rec.r[id];
  if (typeof o !== 'string') return;
  m = RO.exec(o);
  if (o && !m) return;
  // '' is the zone's own origin; a URL is reached without an origin of the distribution, signed for a function URL.
  if (m) {
    o = {
      domainName: m[2],
      customOriginConfig: { port: m[3] ? +m[3] : m[1] === 'https' ? 443 : 80, protocol: m[1], sslProtocols: ['TLSv1.2'] },
      originAccessControlConfig: /\\.lambda-url\\.[a-z0-9-]+\\.on\\.aws$/.test(m[2]) ? { enabled: true, signingBehavior: 'always', signingProtocol: 'sigv4', originType: 'lambda' } : { enabled: false }
    };
    // An origin path cannot be emptied, only set: zones whose own origin has one are refused releases at synth.
    if (m[4]) o.originPath = m[4];
    cf.updateRequestOrigin(o);
  }
  req.headers[RH] = { value: id };
}
`;

/**
 * The viewer-request function of one zone's behaviors, when the zone has
 * releases and the router does not run there: every page function's
 * header work, the zone flags on its pages, `Accept` reduced on its image
 * route, then the release.
 */
export const ZONE_RELEASE = `
// The zone, and the patterns of its asset and image routes (no zone flags there).
var Z = __ZONE__, ZA = __ASSET_PATTERNS__, ZI = __IMAGE_PATTERNS__;
function any(ps, u) {
  for (var i = 0; i < ps.length; i++) if (match(ps[i], u)) return true;
  return false;
}
async function handler(event) {
  var req = event.request;
  try {
    var h = prepare(req), st = state(event), u = typeof req.uri === 'string' ? req.uri : '';
    if (any(ZI, u)) accept(h);
    else if (ZF.length && !any(ZA, u)) h[FL] = { value: await zoneFlags(st) };
    await release(req, st, Z);
  } catch (e) {}
  return req;
}
`;
