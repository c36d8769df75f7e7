import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { ERROR_STATUS, type ErrorCode, isTesseraError } from '../errors.ts';

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

function send(
  reply: FastifyReply,
  request: FastifyRequest,
  code: ErrorCode,
  message: string,
  details?: Readonly<Record<string, string | number | boolean | null>>,
) {
  const error = {
    code,
    message,
    requestId: request.id,
    ...(details === undefined ? {} : { details }),
  };
  return reply.status(ERROR_STATUS[code]).send({ error });
}
