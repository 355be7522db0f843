/**
 * Every error the API answers with: `{"error": {"code", "message"}}` and a status. The
 * message is one sentence that says what went wrong and, where a user can act, what to do.
 */
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';

export type ErrorCode =
  | 'bad_request'
  | 'unauthorized'
  | 'forbidden'
  | 'not_found'
  | 'method_not_allowed'
  | 'request_timeout'
  | 'conflict'
  | 'payload_too_large'
  | 'uri_too_long'
  | 'unsupported_media_type'
  | 'headers_too_large'
  | 'not_ready'
  | 'database_unavailable'
  | 'internal';

/** An error whose status, code and message are meant for the client as they are. */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    readonly statusCode: number,
    readonly code: ErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export const notFound = (message: string) => new ApiError(404, 'not_found', message);
export const conflict = (message: string) => new ApiError(409, 'conflict', message);

/** PostgreSQL SQLSTATEs (and Node socket errors) that mean "the database is not there". */
const UNAVAILABLE_SQLSTATE = /^(08|53|57P0[1-4]|3D000)/;
const UNAVAILABLE_ERRNO = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
]);
const UNAVAILABLE_MESSAGE =
  /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|Connection refused/i;

interface ErrorFields {
  code?: unknown;
  statusCode?: unknown;
  message?: unknown;
  constraint?: unknown;
  errors?: unknown;
}

/** True when `error` says the destination database cannot be reached (or is shutting down). */
export function isDatabaseUnavailable(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const e = error as ErrorFields;
  if (
    typeof e.code === 'string' &&
    (UNAVAILABLE_ERRNO.has(e.code) || (/^[0-9A-Z]{5}$/.test(e.code) && UNAVAILABLE_SQLSTATE.test(e.code)))
  )
    return true;
  if (typeof e.message === 'string' && UNAVAILABLE_MESSAGE.test(e.message)) return true;
  // AggregateError from a host that resolves to several addresses.
  return Array.isArray(e.errors) && e.errors.some(isDatabaseUnavailable);
}

const FASTIFY_CODES: Record<string, { status: number; code: ErrorCode; message: string }> = {
  FST_ERR_CTP_BODY_TOO_LARGE: {
    status: 413,
    code: 'payload_too_large',
    message: 'The request body is too large: requests to this API are small JSON documents.',
  },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: {
    status: 415,
    code: 'unsupported_media_type',
    message: 'Send the request body as application/json.',
  },
  FST_ERR_CTP_EMPTY_JSON_BODY: {
    status: 400,
    code: 'bad_request',
    message: 'The request body is empty: send a JSON object.',
  },
  FST_ERR_CTP_INVALID_JSON_BODY: { status: 400, code: 'bad_request', message: 'The request body is not valid JSON.' },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: {
    status: 400,
    code: 'bad_request',
    message: 'The request body does not match its Content-Length.',
  },
  FST_ERR_BAD_URL: {
    status: 400,
    code: 'bad_request',
    message: 'The URL is not valid: every %-escape in it must be UTF-8.',
  },
  FST_ERR_MAX_PARAM_LENGTH: {
    status: 414,
    code: 'uri_too_long',
    message: 'A path segment is too long: table names are at most 300 characters.',
  },
};

/** The code of a 4xx that carries no code of its own. */
const CODE_OF_STATUS: Record<number, ErrorCode> = {
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  405: 'method_not_allowed',
  408: 'request_timeout',
  413: 'payload_too_large',
  414: 'uri_too_long',
  415: 'unsupported_media_type',
  431: 'headers_too_large',
};

/** The body of every error answer. */
export function errorBody(code: ErrorCode, message: string): { error: { code: ErrorCode; message: string } } {
  return { error: { code, message } };
}

/**
 * What to answer a request Node's HTTP parser refused before Fastify saw it (Fastify's
 * clientErrorHandler): the raw bytes of a response in the API's error format, or null when
 * the client is gone.
 */
export function clientErrorResponse(error: NodeJS.ErrnoException): string | null {
  if (error.code === 'ECONNRESET') return null;
  const [status, reason, code, message]: [number, string, ErrorCode, string] =
    error.code === 'HPE_HEADER_OVERFLOW'
      ? [
          431,
          'Request Header Fields Too Large',
          'headers_too_large',
          'The request headers are too large: keep them under 16 KB.',
        ]
      : error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [408, 'Request Timeout', 'request_timeout', 'The request took too long to arrive.']
        : [400, 'Bad Request', 'bad_request', 'The request is not valid HTTP/1.1.'];
  const body = JSON.stringify(errorBody(code, message));
  return `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`;
}

/**
 * Turn anything thrown while serving a request into the ApiError to answer with.
 * `requestId` goes into the message of a 500 so the log line can be found.
 */
export function toApiError(error: unknown, requestId: string): ApiError {
  if (error instanceof ApiError) return error;
  if (hasZodFastifySchemaValidationErrors(error)) {
    const where = error.validationContext ?? 'request';
    const issues = error.validation.map((issue) => {
      const path = issue.instancePath.replace(/^\//, '').replaceAll('/', '.');
      return path ? `${where}.${path}: ${issue.message}` : `${where}: ${issue.message}`;
    });
    return new ApiError(400, 'bad_request', `Invalid ${where}: ${issues.join('; ')}.`, { cause: error });
  }
  if (isDatabaseUnavailable(error)) {
    return new ApiError(
      503,
      'database_unavailable',
      'The destination database is unreachable; retry once it is back (check ELT_DESTINATION_URL and the server).',
      { cause: error },
    );
  }
  const e = (typeof error === 'object' && error !== null ? error : {}) as ErrorFields;
  if (e.code === '42P01' || e.code === '3F000') {
    return new ApiError(
      503,
      'database_unavailable',
      'The destination has no elt control schema yet: start the replicator (elt replicate) first.',
      { cause: error },
    );
  }
  if (e.code === '23505' && e.constraint === 'resync_job_tables_one_active') {
    return conflict(
      'A resync of one of these tables is already queued or running: wait for it, or cancel it with DELETE /v1/resync/{id}.',
    );
  }
  if (typeof e.code === 'string' && e.code in FASTIFY_CODES) {
    const known = FASTIFY_CODES[e.code]!;
    return new ApiError(known.status, known.code, known.message, { cause: error });
  }
  if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    const code: ErrorCode = CODE_OF_STATUS[e.statusCode] ?? 'bad_request';
    const message = typeof e.message === 'string' ? e.message.replace(/^FST_ERR_[A-Z_]+: /, '') : 'Bad request.';
    return new ApiError(e.statusCode, code, message, { cause: error });
  }
  return new ApiError(500, 'internal', `Internal error: see the API log for request ${requestId}.`, { cause: error });
}
