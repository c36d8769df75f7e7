import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createRotationSlots } from '../../src/rotation/rotation-slots.ts';

/** Work that runs until the test lets it end. */
function gate() {
  let open: () => void = () => {};
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { open, opened };
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('rotation slots', () => {
  it('runs at most the per-target limit on a target and the overall limit in all', async () => {
    const slots = createRotationSlots({ overall: 3 });
    const gates = Array.from({ length: 6 }, gate);
    const started: string[] = [];
    const work = (name: string, i: number) => async () => {
      started.push(name);
      await gates[i]?.opened;
    };
    const runs = [
      slots.run('db1', 2, work('a1', 0)),
      slots.run('db1', 2, work('a2', 1)),
      slots.run('db1', 2, work('a3', 2)), // db1 is full: waits
      slots.run('db2', 2, work('b1', 3)), // passes the waiting a3
      slots.run('db3', 2, work('c1', 4)), // overall full: waits
    ];
    await settle();
    assert.deepEqual(started, ['a1', 'a2', 'b1']);
    assert.deepEqual([slots.busy(), slots.busy('db1'), slots.busy('db2')], [3, 2, 1]);

    gates[0]?.open(); // a1 ends: a3 is first in line and db1 has room again
    await settle();
    assert.deepEqual(started, ['a1', 'a2', 'b1', 'a3']);
    gates[3]?.open();
    await settle();
    assert.deepEqual(started, ['a1', 'a2', 'b1', 'a3', 'c1']);
    for (const g of gates) g.open();
    await Promise.all(runs);
    assert.equal(slots.busy(), 0);
  });

  it('passes on a failure and frees the slot', async () => {
    const slots = createRotationSlots({ overall: 1 });
    await assert.rejects(
      slots.run('db1', 1, async () => {
        throw new Error('target down');
      }),
      /target down/,
    );
    assert.equal(await slots.run('db1', 1, async () => 'next'), 'next');
  });
});
