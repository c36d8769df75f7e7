import { type Command, InvalidArgumentError } from 'commander';
import { type Io, type Session, sessionOf } from '../context.ts';
import {
  formatTime,
  formatWhen,
  printFields,
  printJson,
  printLine,
  printNote,
  printTable,
  printWarning,
  yesNo,
} from '../output.ts';
import { integerBetween } from '../parse.ts';

/** The API's view of a webhook (src/http/routes/webhook-routes.ts). */
interface Webhook {
  readonly id: string;
  readonly name: string;
  readonly url: string;
  readonly events: readonly string[];
  readonly enabled: boolean;
  readonly createdAt: string;
  readonly createdBy: string;
}

interface WebhookWithKey {
  readonly webhook: Webhook;
  readonly key: string;
}

interface Delivery {
  readonly id: string;
  readonly event: string;
  readonly state: string;
  readonly attempts: number;
  readonly nextAttemptAt: string | null;
  readonly lastError: string | null;
  readonly createdAt: string;
  readonly deliveredAt: string | null;
}

const webhookPath = (name: string) => `/v1/webhooks/${encodeURIComponent(name)}`;

const ADD_HELP = `
Events are names (request.created), prefixes ending in a dot (request.) or * for everything.
Critical alerts (break-glass) reach every webhook whatever it subscribes to.

Every delivery is signed: x-tessera-signature is sha256= and the hex HMAC-SHA256, keyed with
the key printed here (its text as is), of x-tessera-timestamp, a dot and the raw body.

Example:
  tessera webhook add approvers --url https://hooks.example.com/tessera \\
      --events request.,breakglass.`;

export function registerWebhook(program: Command, io: Io): void {
  const webhook = program
    .command('webhook')
    .description('webhooks: signed HTTP calls that tell other systems about requests and alerts');

  webhook
    .command('add')
    .description('add a webhook; prints its signing key once')
    .argument('<name>', 'the webhook')
    .requiredOption('--url <url>', 'the receiver, http or https, without credentials in it')
    .requiredOption('--events <list>', 'comma-separated event names or prefixes, or *', eventList)
    .addHelpText('after', ADD_HELP)
    .action(async (name: string, options: { url: string; events: string[] }, command: Command) => {
      const session = sessionOf(command, io);
      const created = await session.api().request<WebhookWithKey>('POST', '/v1/webhooks', {
        body: { name, url: options.url, events: options.events },
      });
      printKey(session, created, `Added webhook ${created.webhook.name}.`);
    });

  webhook
    .command('list')
    .description('list webhooks')
    .action(async (_options: unknown, command: Command) => {
      const session = sessionOf(command, io);
      const reply = await session.api().request<{ webhooks: Webhook[] }>('GET', '/v1/webhooks');
      if (session.json) return printJson(session, reply);
      const rows = reply.webhooks.map((w) => [
        w.name,
        w.events.join(','),
        yesNo(w.enabled),
        formatTime(w.createdAt),
        w.url,
      ]);
      printTable(session, ['NAME', 'EVENTS', 'ENABLED', 'CREATED', 'URL'], rows, 'No webhooks.');
    });

  webhook
    .command('remove')
    .description('remove a webhook and the deliveries still queued for it')
    .argument('<name>', 'the webhook')
    .action(async (name: string, _options: unknown, command: Command) => {
      const session = sessionOf(command, io);
      await session.api().request<null>('DELETE', webhookPath(name));
      if (session.json) return printJson(session, {});
      printLine(session, `Removed webhook ${name}.`);
    });

  webhook
    .command('rotate-key')
    .description('replace the signing key; prints the new one once')
    .argument('<name>', 'the webhook')
    .action(async (name: string, _options: unknown, command: Command) => {
      const session = sessionOf(command, io);
      const rotated = await session
        .api()
        .request<WebhookWithKey>('POST', `${webhookPath(name)}/rotate-key`);
      printKey(session, rotated, `New signing key for webhook ${rotated.webhook.name}.`);
      printNote(session, 'Deliveries from now on are signed with it; the old key no longer works.');
    });

  webhook
    .command('test')
    .description('queue a webhook.test event for this webhook')
    .argument('<name>', 'the webhook')
    .action(async (name: string, _options: unknown, command: Command) => {
      const session = sessionOf(command, io);
      const reply = await session
        .api()
        .request<{ delivery: Delivery }>('POST', `${webhookPath(name)}/test`);
      if (session.json) return printJson(session, reply);
      printLine(session, `Queued a test delivery ${reply.delivery.id} for webhook ${name}.`);
      printNote(session, `See how it went with: tessera webhook deliveries ${name}`);
    });

  webhook
    .command('deliveries')
    .description("a webhook's newest deliveries: pending, delivered or failed")
    .argument('<name>', 'the webhook')
    .option('--limit <n>', 'at most this many (1-500)', integerBetween(1, 500), 50)
    .action(async (name: string, options: { limit: number }, command: Command) => {
      const session = sessionOf(command, io);
      const reply = await session
        .api()
        .request<{ deliveries: Delivery[] }>('GET', `${webhookPath(name)}/deliveries`, {
          query: { limit: options.limit },
        });
      if (session.json) return printJson(session, reply);
      const rows = reply.deliveries.map((d) => [
        formatTime(d.createdAt),
        d.event,
        d.state,
        String(d.attempts),
        d.state === 'pending' ? formatWhen(d.nextAttemptAt, session.now()) : '-',
        d.lastError ?? '',
      ]);
      const headers = ['CREATED', 'EVENT', 'STATE', 'ATTEMPTS', 'NEXT ATTEMPT', 'LAST ERROR'];
      printTable(session, headers, rows, 'No deliveries.');
    });
}

/** The key goes to stdout, once; the warning to stderr, so a pipe gets the key alone. */
function printKey(session: Session, reply: WebhookWithKey, heading: string) {
  printWarning(session, 'the signing key is shown only now and never again; store it now.');
  if (session.json) return printJson(session, reply);
  printLine(session, heading);
  printFields(session, [
    ['Events', reply.webhook.events.join(',')],
    ['URL', reply.webhook.url],
    ['Signing key', reply.key],
  ]);
}

function eventList(text: string): string[] {
  const events = text
    .split(',')
    .map((e) => e.trim())
    .filter((e) => e !== '');
  if (events.length === 0) throw new InvalidArgumentError('name at least one event or prefix');
  return events;
}
