/**
 * A raw HTTP/1.1 client for hostile requests: it sends exactly the bytes it is given (fetch
 * would normalise `..`, refuse odd methods and headers, and add its own) on a new
 * connection, and reads one response.
 */
import { once } from 'node:events';
import { connect } from 'node:net';

const RAW_TIMEOUT_MS = 15_000;

export interface RawRequest {
  method?: string;
  /** Sent as it is, byte for byte: no normalisation, no encoding. */
  path: string | Buffer;
  /** In order, duplicates allowed. Host (first) and Connection: close (last) are added unless given. */
  headers?: Array<[string, string | Buffer]>;
  body?: string | Buffer;
  /** Content-Length is added for a body unless this is false (or a Transfer-Encoding header is given). */
  contentLength?: boolean;
}

export interface RawResponse {
  status: number;
  /** Lower-case names; repeated headers joined with ", ". */
  headers: Record<string, string>;
  body: Buffer;
  text: string;
}

/** The exact bytes of a request. */
export function requestBytes(port: number, request: RawRequest): Buffer {
  const headers = [...(request.headers ?? [])];
  const has = (name: string) => headers.some(([n]) => n.toLowerCase() === name);
  if (!has('host')) headers.unshift(['Host', `127.0.0.1:${port}`]);
  if (!has('connection')) headers.push(['Connection', 'close']);
  const body = request.body === undefined ? undefined : Buffer.from(request.body);
  if (body !== undefined && request.contentLength !== false && !has('content-length') && !has('transfer-encoding')) {
    headers.push(['Content-Length', String(body.length)]);
  }
  const parts: Buffer[] = [
    Buffer.from(`${request.method ?? 'GET'} `),
    Buffer.from(request.path),
    Buffer.from(' HTTP/1.1\r\n'),
  ];
  for (const [name, value] of headers) parts.push(Buffer.from(`${name}: `), Buffer.from(value), Buffer.from('\r\n'));
  parts.push(Buffer.from('\r\n'));
  if (body) parts.push(body);
  return Buffer.concat(parts);
}

/** Parse one HTTP/1.1 response (Content-Length, chunked, or up to the close); null while incomplete. */
export function parseResponse(data: Buffer, closed: boolean): RawResponse | null {
  const end = data.indexOf('\r\n\r\n');
  if (end < 0) return null;
  const [statusLine, ...lines] = data.subarray(0, end).toString('latin1').split('\r\n');
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine ?? '')?.[1]);
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
  }
  let rest = data.subarray(end + 4);
  let body: Buffer;
  if (headers['content-length'] !== undefined) {
    const length = Number(headers['content-length']);
    if (rest.length < length) return null;
    body = rest.subarray(0, length);
  } else if (/chunked/i.test(headers['transfer-encoding'] ?? '')) {
    const chunks: Buffer[] = [];
    for (;;) {
      const lineEnd = rest.indexOf('\r\n');
      if (lineEnd < 0) return null;
      const size = parseInt(rest.subarray(0, lineEnd).toString('latin1'), 16);
      if (size === 0) break;
      if (rest.length < lineEnd + 2 + size + 2) return null;
      chunks.push(rest.subarray(lineEnd + 2, lineEnd + 2 + size));
      rest = rest.subarray(lineEnd + 2 + size + 2);
    }
    body = Buffer.concat(chunks);
  } else {
    if (!closed) return null;
    body = rest;
  }
  return { status, headers, body, text: body.toString('utf8') };
}

/**
 * Send `request` (or the exact bytes given) on a new connection and read one response.
 * A reset after a complete response (the server refused the rest of a body) is not an error.
 */
export async function rawRequest(port: number, request: RawRequest | Buffer): Promise<RawResponse> {
  const bytes = Buffer.isBuffer(request) ? request : requestBytes(port, request);
  const socket = connect(port, '127.0.0.1');
  const chunks: Buffer[] = [];
  let closed = false;
  let failure: Error | null = null;
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  socket.on('error', (error) => (failure = error));
  socket.on('close', () => (closed = true));
  try {
    await once(socket, 'connect');
    socket.write(bytes);
    const deadline = Date.now() + RAW_TIMEOUT_MS;
    for (;;) {
      const response = parseResponse(Buffer.concat(chunks), closed);
      if (response) return response;
      if (closed)
        throw new Error(
          `connection closed without a complete response${failure ? ` (${String(failure)})` : ''}: ${JSON.stringify(Buffer.concat(chunks).toString('latin1').slice(0, 300))}`,
        );
      if (Date.now() > deadline)
        throw new Error(
          `no complete response within ${RAW_TIMEOUT_MS} ms: ${JSON.stringify(Buffer.concat(chunks).toString('latin1').slice(0, 300))}`,
        );
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  } finally {
    socket.destroy();
  }
}
