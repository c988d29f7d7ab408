import * as http from 'http';
import * as net from 'net';

/** A request as the local edge's server hands it over: method, path, raw headers, and a body that ends. */
export function incoming(method: string, url: string, headers: Record<string, string> = {}, body?: Buffer | string): http.IncomingMessage {
  const req = new http.IncomingMessage(new net.Socket());
  req.method = method;
  req.url = url;
  const all = { host: 'www.example.test', ...headers };
  req.rawHeaders = Object.entries(all).flat();
  // What Node's parser makes of them, each sent once.
  req.headers = all;
  req.headersDistinct = Object.fromEntries(Object.entries(all).map(([name, value]) => [name, [value]]));
  if (body !== undefined) req.push(body);
  req.push(null);
  return req;
}
