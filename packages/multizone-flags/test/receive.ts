import * as http from 'node:http';
import * as net from 'node:net';

/**
 * Writes one raw HTTP/1.1 request with these header lines ([name, value,
 * name, value, ...], repeats allowed) to a real Node server and returns the
 * request as the server parsed it: what a Pages Router page or API route gets
 * as `req`.
 */
export async function receive(headerLines: string[]): Promise<http.IncomingMessage> {
  let received: http.IncomingMessage | undefined;
  const server = http.createServer((req, res) => {
    received = req;
    res.end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const { port } = server.address() as net.AddressInfo;
    let head = 'GET /blog HTTP/1.1\r\nHost: site.example\r\nConnection: close\r\n';
    for (let i = 0; i < headerLines.length; i += 2) head += `${headerLines[i]}: ${headerLines[i + 1]}\r\n`;
    await new Promise<void>((resolve, reject) => {
      const socket = net.connect(port, '127.0.0.1', () => socket.end(`${head}\r\n`));
      socket.on('error', reject);
      socket.on('close', () => resolve());
      socket.resume();
    });
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
  if (!received) throw new Error('the server received no request');
  return received;
}
