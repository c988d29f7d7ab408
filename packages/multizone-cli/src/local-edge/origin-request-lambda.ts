/**
 * A behavior's origin-request Lambda@Edge function (the body hash), run on
 * the template's own bundled code before the request leaves for the zone,
 * as CloudFront runs it: with the body included, CloudFront reads the body
 * first (the function sees at most 1 MB of it), then forwards all of it.
 */
import type * as http from 'http';
import { PassThrough, Readable } from 'stream';
import { MAX_INCLUDED_BODY } from '../edge-function/lambda-edge';
import type { OriginRequestOutcome, ServedRequest, SynthesizedSite } from '../synthesized-site';
import type { OutgoingRequest } from './origin-request';
import { Failure, escapeHtml, failure } from './pages';
import type { ZoneTarget } from './zones';

/** The request the zone gets after the function: path, headers, and the body stream to send (the viewer's, replayed). */
export interface AfterOriginRequest {
  readonly outcome: OriginRequestOutcome;
  /** The body to forward, when the function read it; undefined: the viewer's request streams as is. */
  readonly body?: Readable;
}

/**
 * The origin-request step: the behavior's origin-request function on the
 * request the zone would get, or CloudFront's 502 page when it fails, as
 * CloudFront answers a Lambda error.
 */
export async function originRequestLambdaStep(site: SynthesizedSite, served: ServedRequest, req: http.IncomingMessage, outgoing: OutgoingRequest, target: ZoneTarget): Promise<AfterOriginRequest | Failure> {
  try {
    return await throughOriginRequestLambda(site, served, req, outgoing, target);
  } catch (e) {
    const name = site.edgeFunctionName(served.behavior.originRequestLambda!);
    return failure(502, 'Lambda function error', `<p>The origin-request Lambda@Edge function ${escapeHtml(name)} of behavior <code>${escapeHtml(served.behavior.pathPattern)}</code> failed: ${escapeHtml((e as Error).message)}</p>`);
  }
}

/**
 * Runs the behavior's origin-request function on the request the zone
 * would get (`outgoing`), reading the body first when the association
 * includes it. The outcome is the request unchanged when there is none.
 */
async function throughOriginRequestLambda(
  site: SynthesizedSite,
  served: ServedRequest,
  req: http.IncomingMessage,
  outgoing: OutgoingRequest,
  target: ZoneTarget,
): Promise<AfterOriginRequest> {
  const association = served.behavior.originRequestLambda;
  const read = association?.includeBody ? await readUpTo(req, MAX_INCLUDED_BODY) : undefined;
  const outcome = await site.originRequest(served, {
    body: read && Buffer.concat(read.chunks),
    headers: outgoing.headers,
    path: outgoing.path,
    originUrl: target.url,
    originHeaders: target.originHeaders,
  });
  return { outcome, body: read && replay(req, read) };
}

/** What was read of a body: its first chunks, past `limit` bytes or to its end. */
interface ReadBody {
  readonly chunks: Buffer[];
  readonly ended: boolean;
}

/** Reads a request body until it ends or passes `limit` bytes, then pauses it: the rest stays in the stream. */
function readUpTo(req: http.IncomingMessage, limit: number): Promise<ReadBody> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const stop = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
    };
    const done = (ended: boolean) => {
      stop();
      req.pause();
      resolve({ chunks, ended });
    };
    const onError = (e: Error) => {
      stop();
      reject(e);
    };
    // A viewer that goes away mid-body leaves nothing to forward.
    const onClose = () => onError(new Error('the viewer closed the connection before sending the whole body'));
    const onData = (chunk: Buffer) => {
      chunks.push(chunk);
      size += chunk.length;
      if (size > limit) done(false);
    };
    const onEnd = () => done(true);
    req.on('data', onData);
    req.once('end', onEnd);
    req.once('error', onError);
    req.once('close', onClose);
  });
}

/** The whole body again: the chunks read, then the rest of the viewer's stream. */
function replay(req: http.IncomingMessage, read: ReadBody): Readable {
  const body = new PassThrough();
  for (const chunk of read.chunks) body.write(chunk);
  if (read.ended) body.end();
  else req.pipe(body);
  return body;
}
