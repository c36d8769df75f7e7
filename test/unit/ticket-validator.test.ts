/**
 * The HTTP ticket validator against a ticket system played by a local HTTP server, and the
 * administrator's ticket patterns: anchoring, and patterns that could backtrack without end.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { isTesseraError } from '../../src/errors.ts';
import {
  checkTicketPattern,
  compileTicketPattern,
  createHttpTicketValidator,
  isTicketValue,
} from '../../src/integrations/ticket-validator.ts';

type Route = (request: IncomingMessage, body: string, response: ServerResponse) => void;

const json = (response: ServerResponse, status: number, value: unknown) => {
  response.writeHead(status, { 'content-type': 'application/json' });
  response.end(JSON.stringify(value));
};

describe('HTTP ticket validator', () => {
  let server: Server;
  let base = '';
  let closedPort = 0;
  const bodies: unknown[] = [];
  const hits = new Map<string, number>();
  const routes: Record<string, Route> = {
    '/valid': (_req, _body, res) =>
      json(res, 200, { valid: true, detail: 'ticket INC0012345 open' }),
    '/invalid': (_req, _body, res) =>
      json(res, 200, { valid: false, detail: `closed\u001b[2J ticket ${'x'.repeat(400)}` }),
    '/no-detail': (_req, _body, res) => json(res, 201, { valid: true }),
    '/error': (_req, _body, res) => json(res, 500, { error: 'database password is hunter2' }),
    '/slow': () => {
      // Never answers: the validator's timeout has to end the call.
    },
    '/not-json': (_req, _body, res) => {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<html>hunter2</html>');
    },
    '/no-verdict': (_req, _body, res) => json(res, 200, { valid: 'yes' }),
    '/huge': (_req, _body, res) => json(res, 200, { valid: true, detail: 'y'.repeat(100_000) }),
    '/redirect': (_req, _body, res) => {
      res.writeHead(302, { location: `${base}/valid` });
      res.end();
    },
  };

  before(async () => {
    server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (c: Buffer) => chunks.push(c));
      request.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        const path = request.url ?? '/';
        hits.set(path, (hits.get(path) ?? 0) + 1);
        bodies.push(JSON.parse(body || 'null'));
        const route = routes[path];
        if (route === undefined) return json(response, 404, {});
        route(request, body, response);
      });
    });
    server.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    // A loopback port this test opened and closed again: nothing listens there.
    const spare = createServer();
    spare.listen(0, '127.0.0.1');
    await new Promise((resolve) => spare.once('listening', resolve));
    closedPort = (spare.address() as AddressInfo).port;
    await new Promise((resolve) => spare.close(resolve));
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  const validator = createHttpTicketValidator({ timeoutMs: 300 });
  const query = (path: string, ticket = 'INC0012345') => ({
    url: `${base}${path}`,
    ticket,
    requester: 'alice',
    safe: 'ops',
    account: 'root@db01',
  });

  /** The call fails with `code`, and its message matches `message` without echoing the answer. */
  const refuses = async (promise: Promise<unknown>, code: string, message: RegExp) => {
    await assert.rejects(promise, (error: unknown) => {
      assert.ok(isTesseraError(error));
      assert.equal(error.code, code);
      assert.match(error.message, message);
      assert.ok(!error.message.includes('hunter2'), 'the answer is not repeated');
      return true;
    });
  };

  it('posts the ticket, requester, safe and account, and takes a valid verdict', async () => {
    const verdict = await validator.validate(query('/valid'));
    assert.deepEqual(verdict, { valid: true, detail: 'ticket INC0012345 open' });
    assert.deepEqual(bodies.at(-1), {
      ticket: 'INC0012345',
      requester: 'alice',
      safe: 'ops',
      account: 'root@db01',
    });
    assert.deepEqual(await validator.validate(query('/no-detail')), { valid: true, detail: null });
  });

  it('takes an invalid verdict, its detail cut short and without control characters', async () => {
    const verdict = await validator.validate(query('/invalid'));
    assert.equal(verdict.valid, false);
    assert.ok(verdict.detail?.startsWith('closed [2J ticket x'));
    assert.ok((verdict.detail?.length ?? 0) <= 201);
    assert.ok(!verdict.detail?.includes('\u001b'));
  });

  it('fails closed with TICKET_SYSTEM_UNAVAILABLE when no verdict can be had', async () => {
    const unavailable = 'TICKET_SYSTEM_UNAVAILABLE';
    await refuses(validator.validate(query('/error')), unavailable, /answered HTTP 500/);
    await refuses(validator.validate(query('/slow')), unavailable, /no answer within 0.3 s/);
    await refuses(validator.validate(query('/not-json')), unavailable, /did not answer with JSON/);
    await refuses(validator.validate(query('/no-verdict')), unavailable, /boolean "valid"/);
    await refuses(validator.validate(query('/huge')), unavailable, /more than a verdict/);
    const refused = { ...query('/valid'), url: `http://127.0.0.1:${closedPort}/` };
    await refuses(validator.validate(refused), unavailable, /connection failed \(ECONNREFUSED\)/);
  });

  it('never follows a redirect', async () => {
    const before = hits.get('/valid') ?? 0;
    await refuses(validator.validate(query('/redirect')), 'TICKET_SYSTEM_UNAVAILABLE', /HTTP 302/);
    assert.equal(hits.get('/valid') ?? 0, before, 'the redirect target was not called');
  });

  it('refuses a URL with credentials or another scheme and a bad ticket, unsent', async () => {
    const sent = bodies.length;
    for (const url of ['http://u:hunter2@127.0.0.1:1/', 'file:///etc/passwd', 'nonsense']) {
      await refuses(
        validator.validate({ ...query('/valid'), url }),
        'TICKET_SYSTEM_UNAVAILABLE',
        /ticket validator URL/,
      );
    }
    for (const ticket of ['', 'x'.repeat(65), 'INC1\nINC2', ' INC1', 'INC\u0000']) {
      await refuses(validator.validate(query('/valid', ticket)), 'VALIDATION_FAILED', /ticket/);
    }
    assert.equal(bodies.length, sent, 'nothing reached the ticket system');
  });
});

describe('ticket patterns', () => {
  it('matches the whole ticket, never a part of it', () => {
    assert.equal(checkTicketPattern('INC\\d{7}', 'INC0012345'), true);
    assert.equal(checkTicketPattern('INC\\d{7}', 'xINC0012345'), false);
    assert.equal(checkTicketPattern('INC\\d{7}', 'INC0012345x'), false);
    assert.equal(checkTicketPattern('INC\\d{7}', 'INC0012345\n'), false);
    // Alternation stays inside the anchors.
    assert.equal(checkTicketPattern('INC|CHG', 'INC'), true);
    assert.equal(checkTicketPattern('INC|CHG', 'INCx'), false);
    assert.equal(checkTicketPattern('INC|CHG', 'xCHG'), false);
    assert.equal(checkTicketPattern('.*', 'x'.repeat(65)), false, 'too long whatever the pattern');
  });

  it('takes ordinary ticket patterns', () => {
    for (const pattern of [
      '(INC|CHG)[0-9]{7}',
      '[A-Z]{2,10}-\\d{1,8}',
      '(?:PROJ-)?\\d+',
      '(\\d{3})+',
      '(?<project>[A-Z]+)-\\d+',
      'JIRA-[1-9]\\d*',
    ]) {
      assert.ok(compileTicketPattern(pattern) instanceof RegExp, pattern);
    }
    assert.equal(checkTicketPattern('(\\d{3})+', '123456'), true);
    assert.equal(checkTicketPattern('(\\d{3})+', '12345'), false);
  });

  it('refuses patterns that escape the anchors, backtrack without end or fail', () => {
    const refused: ReadonlyArray<readonly [string, RegExp]> = [
      ['', /1 to 200/],
      ['a'.repeat(201), /1 to 200/],
      ['[', /unclosed \[/],
      ['(', /unbalanced/],
      ['a)|(b', /unbalanced/],
      ['a)', /unbalanced/],
      ['a{2,1}', /not a valid regular expression/],
      ['\\q', /not a valid regular expression/],
      ['(a+)+', /exponential/],
      ['(a*)*b', /exponential/],
      ['(a|aa)+', /exponential/],
      ['(?:x+x+)+y', /exponential/],
      ['((a+))*', /exponential/],
      ['(a?){20}', /exponential/],
      ['\\d*\\d*\\d*\\d*\\d*', /at most 4/],
      ['(a)\\1', /back-references/],
      ['(?<n>a)\\k<n>', /back-references/],
      ['(?=a)a', /look-arounds/],
      ['(?<!a)b', /look-arounds/],
      ['a\u0000', /control characters/],
    ];
    for (const [pattern, message] of refused) {
      assert.throws(
        () => compileTicketPattern(pattern),
        (error: unknown) => {
          assert.ok(isTesseraError(error), pattern);
          assert.equal(error.code, 'VALIDATION_FAILED', pattern);
          assert.equal(error.details?.field, 'ticketPattern');
          assert.match(error.message, message, pattern);
          return true;
        },
      );
    }
  });

  it('knows a well-formed ticket value', () => {
    assert.equal(isTicketValue('INC0012345'), true);
    assert.equal(isTicketValue('Änderung 42'), true);
    assert.equal(isTicketValue('x'.repeat(64)), true);
    for (const bad of ['', 'x'.repeat(65), ' x', 'x ', 'a\tb', 'a\u200bb', 'a\u0085b']) {
      assert.equal(isTicketValue(bad), false, JSON.stringify(bad));
    }
  });
});
