/**
 * `Accept` reduced for the image cache key, in the viewer-request function of `next/image` behaviors, for CloudFront
 * Functions runtime cloudfront-js-2.0.
 *
 * Next.js answers AVIF or WebP only when `Accept` names that type, and the
 * image cache key holds `Accept`; browsers send a dozen spellings of it
 * (Chrome, Firefox and Safari differ, and change with versions), and any
 * client can send more. Reduced to its `image/avif` and `image/webp`
 * entries, in the order and with the parameters the viewer gave, the key
 * has at most a handful of values per image, and Next.js makes the same
 * choice as from the full header: it considers only the formats it can
 * produce, and only when the header names them.
 */
export const ACCEPT = `function accept(h) {
var a = h.accept, v = a ? a.value : '', k = [], i, t;
if (a && a.multiValue) v = a.multiValue.map(function (m) { return m.value; }).join(',');
v = v.toLowerCase().split(',');
for (i = 0; i < v.length; i++) {
t = v[i].replace(/\\s+/g, '');
if (/^image\\/(avif|webp)(;|$)/.test(t)) k.push(t);
}
if (k.length > 0) h.accept = { value: k.join(',') };
else delete h.accept;
}
`;

/** The image behaviors' function: `accept` alone. */
export const IMAGE_ACCEPT_CODE = `${ACCEPT}function handler(event) {
accept(event.request.headers);
return event.request;
}
`;
