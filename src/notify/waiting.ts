import { isRepeatable } from './repeats.js';
import type { NotificationEvent } from './types.js';

/** An approval request: someone must answer it, so it goes first and is never dropped. */
export const asksAPerson = (e: NotificationEvent): boolean => e.event === 'APPROVAL_REQUIRED';

/** A notification waiting, with its place in arrival order. */
interface Item {
  event: NotificationEvent;
  seq: number;
}

/** First in, first out: push and shift in constant time (amortized), where Array#shift copies. */
interface Fifo<T> extends Iterable<T> {
  readonly size: number;
  push(x: T): void;
  peek(): T | undefined;
  shift(): T | undefined;
  clear(): void;
}

function createFifo<T>(): Fifo<T> {
  let items: Array<T | undefined> = [];
  let head = 0;
  return {
    get size() {
      return items.length - head;
    },
    push(x) {
      items.push(x);
    },
    peek: () => items[head],
    shift() {
      if (head >= items.length) return undefined;
      const x = items[head];
      items[head++] = undefined;
      // The slots shifted off are let go once they are half the array.
      if (head === items.length) {
        items = [];
        head = 0;
      } else if (head >= 1_024 && head * 2 >= items.length) {
        items = items.slice(head);
        head = 0;
      }
      return x;
    },
    clear() {
      items = [];
      head = 0;
    },
    *[Symbol.iterator]() {
      for (let i = head; i < items.length; i++) yield items[i]!;
    },
  };
}

/**
 * What waits for one receiver, in the order it goes: the approval requests first, oldest
 * first, then everything else in arrival order. Kept in three lists (the requests, the
 * blocked or manual decisions a full queue drops first, the rest) so that queueing, taking
 * the next, and taking out what a full queue drops each cost the same however many wait:
 * approval requests are kept past the queue's bound, thousands in an approval storm, and
 * each notification is queued on the event loop, for every receiver.
 */
export interface Waiting extends Iterable<NotificationEvent> {
  readonly length: number;
  /** Queues a notification: a request behind the requests before it, anything else last. */
  push(event: NotificationEvent): void;
  /** Takes out the next to go. */
  shift(): NotificationEvent | undefined;
  /** Takes out everything, in the order it would have gone. */
  takeAll(): NotificationEvent[];
  /** Takes out the oldest blocked or manual decision (not an approval request), if any. */
  takeOldestRepeatable(): NotificationEvent | undefined;
  /** Takes out the oldest that is not an approval request, if any. */
  takeOldestOther(): NotificationEvent | undefined;
  /** Takes out the requests for this approval. */
  takeRequests(approvalId: string): NotificationEvent[];
}

export function createWaiting(): Waiting {
  let seq = 0;
  /** Approval requests, oldest first: a Set keeps insertion order and takes one out of the middle (a settled one) in constant time. */
  const requests = new Set<Item>();
  const requestsFor = new Map<string, Set<Item>>();
  const repeatables = createFifo<Item>();
  const others = createFifo<Item>();

  const forgetRequest = (item: Item): void => {
    requests.delete(item);
    const id = item.event.approval_id;
    if (id === null) return;
    const of = requestsFor.get(id);
    of?.delete(item);
    if (of?.size === 0) requestsFor.delete(id);
  };
  /** The older of the two lists' heads: the next of everything but the requests. */
  const olderHead = (): Fifo<Item> | undefined => {
    const r = repeatables.peek();
    const o = others.peek();
    if (!r) return o ? others : undefined;
    return !o || r.seq < o.seq ? repeatables : others;
  };
  function* inOrder(): Generator<Item> {
    yield* requests;
    const r = [...repeatables];
    const o = [...others];
    let i = 0;
    let j = 0;
    while (i < r.length || j < o.length) {
      if (j >= o.length || (i < r.length && r[i]!.seq < o[j]!.seq)) yield r[i++]!;
      else yield o[j++]!;
    }
  }

  return {
    get length() {
      return requests.size + repeatables.size + others.size;
    },
    push(event) {
      const item = { event, seq: seq++ };
      if (asksAPerson(event)) {
        requests.add(item);
        if (event.approval_id !== null) {
          let of = requestsFor.get(event.approval_id);
          if (!of) requestsFor.set(event.approval_id, (of = new Set()));
          of.add(item);
        }
      } else if (isRepeatable(event)) repeatables.push(item);
      else others.push(item);
    },
    shift() {
      const first = requests.values().next();
      if (!first.done) {
        forgetRequest(first.value);
        return first.value.event;
      }
      return olderHead()?.shift()!.event;
    },
    takeAll() {
      const all = [...inOrder()].map((i) => i.event);
      requests.clear();
      requestsFor.clear();
      repeatables.clear();
      others.clear();
      return all;
    },
    takeOldestRepeatable: () => repeatables.shift()?.event,
    takeOldestOther: () => olderHead()?.shift()!.event,
    takeRequests(approvalId) {
      const of = requestsFor.get(approvalId);
      if (!of) return [];
      const out = [...of];
      for (const item of out) forgetRequest(item);
      return out.map((i) => i.event);
    },
    *[Symbol.iterator]() {
      for (const item of inOrder()) yield item.event;
    },
  };
}
