import { Injectable } from '@nestjs/common';
import { subscriptionMatches } from '@purple/contracts';

/** A bus client as a destination: its inbox receives what matches its subscription, and every broadcast. */
export interface Destination {
  clientId: string;
  subscription: string;
}

/**
 * The bus clients whose inboxes the router delivers to, kept in line with bus_client by the ClientRouter. The router
 * picks each message's destinations here and publishes one copy per inbox, so that a full inbox refuses only its
 * own copy (a publish routed to several queues is nacked as a whole when one of them is full).
 */
@Injectable()
export class DestinationDirectory {
  private readonly destinations = new Map<string, string>();
  private complete = false;

  /** Whether it has been filled from a full read of bus_client: before that, nothing may be forwarded. */
  get loaded(): boolean {
    return this.complete;
  }

  /** Replaces everything with a full read of bus_client (bus clients only). */
  replaceAll(destinations: Destination[]): void {
    this.complete = true;
    this.destinations.clear();
    for (const d of destinations) this.destinations.set(d.clientId, d.subscription);
  }

  /** Records one client's current subscription, or forgets it (deleted, or no longer a bus client). */
  set(clientId: string, subscription: string | undefined): void {
    if (subscription === undefined) this.destinations.delete(clientId);
    else this.destinations.set(clientId, subscription);
  }

  /** The clients whose subscription matches `topic`, in a stable order. */
  subscribersOf(topic: string): string[] {
    return [...this.destinations].filter(([, subscription]) => subscriptionMatches(subscription, topic)).map(([id]) => id).sort();
  }

  /** Every client: a broadcast reaches every inbox. */
  everyone(): string[] {
    return [...this.destinations.keys()].sort();
  }
}
