import { isIPv4, isIPv6 } from 'node:net';

/** The bits of an IPv6 address that one subscriber controls: a home or a server gets a /64. */
const IPV6_SUBSCRIBER_GROUPS = 4;

/**
 * The key under which limits count a network source. An IPv4 address counts alone; an IPv6
 * address counts by its /64, because whoever holds one address of a /64 can use all of them,
 * and a limit per address would then limit nothing.
 */
export function sourceKey(address: string | null | undefined): string {
  if (address === null || address === undefined || address === '') return 'unknown';
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(address);
  if (mapped?.[1] !== undefined && isIPv4(mapped[1])) return mapped[1];
  const bare = address.split('%', 1)[0] ?? '';
  if (!isIPv6(bare)) return address;
  return `${subscriberPrefix(bare)}::/64`;
}

/** The first four groups of a valid IPv6 address, in canonical lower-case hex. */
function subscriberPrefix(address: string): string {
  const [head = '', tail] = address.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  // An embedded IPv4 address ends the address and fills two groups.
  const width = (groups: string[]) => groups.reduce((n, g) => n + (g.includes('.') ? 2 : 1), 0);
  const gap = tail === undefined ? 0 : 8 - width(left) - width(right);
  const groups = [...left, ...Array<string>(gap).fill('0'), ...right];
  return groups
    .slice(0, IPV6_SUBSCRIBER_GROUPS)
    .map((group) => (group.includes('.') ? '0' : Number.parseInt(group, 16).toString(16)))
    .join(':');
}
