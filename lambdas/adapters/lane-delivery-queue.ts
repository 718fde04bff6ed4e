import type { DeliveryMessage } from '../core/model.js';
import type { DeliveryQueue } from '../core/ports.js';

/*
 * Dedicated lanes: brands with a delivery queue of their own (DEDICATED_LANES), so a brand far larger than
 * the others never queues in front of them. Whatever sends a delivery (route, a resend, a deferral or
 * retry in deliver) goes through this, so a brand's messages always land in its lane and stay there.
 */
export class LaneDeliveryQueue implements DeliveryQueue {
  constructor(
    private readonly shared: DeliveryQueue,
    /** Brand → its lane's queue. */
    private readonly lanes: ReadonlyMap<string, DeliveryQueue>,
  ) {}

  /** The queue a brand's deliveries go to. */
  queueOf(brand: string): DeliveryQueue {
    return this.lanes.get(brand) ?? this.shared;
  }

  async send(messages: readonly DeliveryMessage[], delaySeconds?: number): Promise<DeliveryMessage[]> {
    const byQueue = new Map<DeliveryQueue, DeliveryMessage[]>();
    for (const message of messages) {
      const queue = this.queueOf(message.brand);
      const group = byQueue.get(queue);
      if (group) group.push(message);
      else byQueue.set(queue, [message]);
    }
    // As one queue's send: what could not be queued is returned, and it throws only when nothing was.
    const sent = await Promise.allSettled(
      [...byQueue].map(([queue, group]) => queue.send(group, delaySeconds)),
    );
    const groups = [...byQueue.values()];
    const firstError = sent.find((result) => result.status === 'rejected');
    if (firstError && sent.every((result) => result.status === 'rejected')) throw firstError.reason;
    return sent.flatMap((result, index) =>
      result.status === 'fulfilled' ? result.value : (groups[index] ?? []),
    );
  }
}
