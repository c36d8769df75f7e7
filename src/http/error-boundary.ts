import { randomUUID } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { ERROR_STATUS, type ErrorCode, type ErrorDetails, isTesseraError } from '../errors.ts';

/**
 * The one place where errors become HTTP responses. Tessera's own errors keep their code and
 * message; validation errors say which field is wrong; anything else is logged with its context
 * and answered with a generic 500, so no driver text, SQL or stack reaches a client.
 */
export function errorHandler(error: FastifyError, request: FastifyRequest, reply: FastifyReply) {
  if (isTesseraError(error)) {
    return send(reply, request, error.code, error.message, error.details);
  }
  if (hasZodFastifySchemaValidationErrors(error)) {
    const issues = error.validation
      .slice(0, 5)
      .map((issue) => `${issue.instancePath || '(root)'}: ${issue.message}`);
    return send(
      reply,
      request,
      'VALIDATION_FAILED',
      `invalid ${error.validationContext ?? 'request'}: ${issues.join('; ')}`,
    );
  }
  if (error.statusCode === 415 || error.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
    return send(reply, request, 'BAD_REQUEST', 'send JSON with content-type application/json');
  }
  if (error.statusCode === 413)
    return send(reply, request, 'BAD_REQUEST', 'request body too large');
  if (error.statusCode === 429) return send(reply, request, 'RATE_LIMITED', 'too many requests');
  if (error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500) {
    return send(reply, request, 'BAD_REQUEST', 'malformed request');
  }
  request.log.error({ err: error }, 'unhandled error');
  return send(reply, request, 'INTERNAL', 'internal error');
}

export function notFoundHandler(request: FastifyRequest, reply: FastifyReply) {
  return send(reply, request, 'NOT_FOUND', 'no such route');
}

/**
 * Errors Fastify raises while routing, before any hook runs: bad percent-encoding or an
 * over-long path parameter. Same body as every other error, and the URL is never repeated: it
 * is whatever the client sent.
 */
export function frameworkErrorHandler(
  error: FastifyError,
  request: FastifyRequest,
  reply: FastifyReply,
): void {
  reply.header('x-request-id', request.id);
  if (error.code === 'FST_ERR_MAX_PARAM_LENGTH') {
    void send(reply, request, 'VALIDATION_FAILED', 'a part of the path is too long');
  } else if (error.code === 'FST_ERR_BAD_URL') {
    void send(reply, request, 'BAD_REQUEST', 'the path is not valid percent-encoded UTF-8');
  } else if (error.statusCode !== undefined && error.statusCode < 500) {
    void send(reply, request, 'BAD_REQUEST', 'malformed request');
  } else {
    request.log.error({ code: error.code }, 'routing failed');
    void send(reply, request, 'INTERNAL', 'internal error');
  }
}

/**
 * Requests Node's HTTP parser refuses (a broken request line or header) never become a
 * request: the answer is written to the socket, in the same shape, and the connection closed.
 */
export function clientErrorHandler(error: Error & { code?: string }, socket: Socket): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  if (socket.writable) {
    const message =
      error.code === 'HPE_HEADER_OVERFLOW' ? 'request headers too large' : 'malformed request';
    const body = JSON.stringify({
      error: { code: 'BAD_REQUEST', message, requestId: randomUUID() },
    });
    const status = ERROR_STATUS.BAD_REQUEST;
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\ncontent-type: application/json\r\n` +
        `content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy(error);
}

function send(
  reply: FastifyReply,
  request: FastifyRequest,
  code: ErrorCode,
  message: string,
  details?: ErrorDetails,
) {
  // A client that is told to slow down is also told for how long, in the standard header.
  if (typeof details?.retryAfterS === 'number') reply.header('retry-after', details.retryAfterS);
  const error = {
    code,
    message,
    requestId: request.id,
    ...(details === undefined ? {} : { details }),
  };
  return reply.status(ERROR_STATUS[code]).send({ error });
}
