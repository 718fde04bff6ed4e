import { useEffect, useRef, useState } from 'preact/hooks';
import { api, type Delivery, type Page, type Subscription } from './api.js';
import { SubscriptionForm } from './subscription-form.js';
import { formatTime, toLocalInput, viewerTimeZone } from './time.js';
import { ErrorMessage, Loading, ScreenHeading, SecretPanel, secretOf } from './ui.js';

const path = (id: string) => `/subscriptions/${encodeURIComponent(id)}`;

export function SubscriptionPage({ id }: { id: string }) {
  const [subscription, setSubscription] = useState<Subscription | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [actionError, setActionError] = useState<unknown>(null);
  const [message, setMessage] = useState('');
  const [editing, setEditing] = useState(false);
  const [secret, setSecret] = useState<{ label: string; value: string } | null>(null);
  const [busy, setBusy] = useState(false);
  const [deliveriesVersion, setDeliveriesVersion] = useState(0);
  const confirmRef = useRef<HTMLDialogElement>(null);

  const load = async () => {
    try {
      setSubscription(await api<Subscription>('GET', path(id)));
      setError(null);
    } catch (failure) {
      setError(failure);
    }
  };
  useEffect(() => {
    void load();
  }, [id]);

  /** Runs one action: its outcome in the status line, its failure in an alert. */
  const act = async (run: () => Promise<string>) => {
    setBusy(true);
    setActionError(null);
    setMessage('');
    try {
      setMessage(await run());
    } catch (failure) {
      setActionError(failure);
    } finally {
      setBusy(false);
    }
  };

  if (error && !subscription) {
    return (
      <>
        <ScreenHeading>Subscription</ScreenHeading>
        <ErrorMessage error={error} />
        <p>
          <a href="#/">Back to the subscriptions</a>
        </p>
      </>
    );
  }
  if (!subscription) return <Loading what="the subscription" />;
  const paused = subscription.status === 'paused';

  return (
    <>
      <p class="crumbs">
        <a href="#/">Subscriptions</a>
      </p>
      <ScreenHeading>{subscription.name}</ScreenHeading>
      {editing ? (
        <SubscriptionForm
          existing={subscription}
          onCancel={() => setEditing(false)}
          onSaved={(saved) => {
            setEditing(false);
            setSubscription(saved);
            setMessage('Changes saved.');
          }}
        />
      ) : (
        <>
          <div class="actions">
            <button type="button" onClick={() => setEditing(true)}>
              Edit
            </button>
            <button
              type="button"
              disabled={busy || subscription.status === 'disabled'}
              onClick={() =>
                act(async () => {
                  const saved = await api<Subscription>('PATCH', path(id), {
                    status: paused ? 'active' : 'paused',
                  });
                  setSubscription(saved);
                  return paused
                    ? 'Resumed: deliveries start again.'
                    : 'Paused: no webhook is sent until resumed.';
                })
              }
            >
              {paused ? 'Resume' : 'Pause'}
            </button>
            <button
              type="button"
              disabled={busy}
              onClick={() =>
                act(async () => {
                  const rotated = await api<{
                    secret?: string;
                    publicKey?: string;
                    previousSecretsExpireAt: string;
                  }>('POST', `${path(id)}/secret/rotate`);
                  setSecret(secretOf(rotated));
                  return `Secret rotated. The previous one keeps signing until ${formatTime(rotated.previousSecretsExpireAt)}.`;
                })
              }
            >
              Rotate secret
            </button>
            <button
              type="button"
              disabled={busy}
              onClick={() =>
                act(async () => {
                  const sent = await api<{ event: string }>('POST', `${path(id)}/test`);
                  setTimeout(() => setDeliveriesVersion((v) => v + 1), 1500);
                  setDeliveriesVersion((v) => v + 1);
                  return `Test event ${sent.event} queued; it appears under Deliveries.`;
                })
              }
            >
              Send test event
            </button>
            <button
              type="button"
              class="danger"
              disabled={busy}
              onClick={() => confirmRef.current?.showModal()}
            >
              Delete
            </button>
          </div>
          <p role="status" class="status" dir="auto">
            {message}
          </p>
          <ErrorMessage error={actionError} />
          {secret ? (
            <SecretPanel label={secret.label} value={secret.value} onDone={() => setSecret(null)} />
          ) : null}
          <Details subscription={subscription} />
        </>
      )}
      <dialog ref={confirmRef} aria-labelledby="confirm-heading" class="confirm">
        <form method="dialog">
          <h2 id="confirm-heading">Delete this subscription?</h2>
          <p dir="auto">
            “{subscription.name}” stops receiving webhooks at once and its delivery log is no longer shown.
            This cannot be undone.
          </p>
          <div class="actions">
            <button
              type="button"
              class="danger"
              onClick={() =>
                act(async () => {
                  await api('DELETE', path(id));
                  confirmRef.current?.close();
                  location.hash = '#/';
                  return 'Deleted.';
                })
              }
            >
              Delete subscription
            </button>
            <button type="submit" class="secondary" value="cancel">
              Cancel
            </button>
          </div>
        </form>
      </dialog>
      <FailedEvents
        id={id}
        version={deliveriesVersion}
        onChanged={() => setDeliveriesVersion((v) => v + 1)}
      />
      <Deliveries id={id} version={deliveriesVersion} onRefresh={() => setDeliveriesVersion((v) => v + 1)} />
    </>
  );
}

function Details({ subscription }: { subscription: Subscription }) {
  const rows: [string, string][] = [
    ['Entity', subscription.entity],
    [
      'Events',
      subscription.events
        .map((event) =>
          [
            event.name,
            event.activityTypes ? `activity types ${event.activityTypes.join(', ')}` : '',
            event.channels ? `channels ${event.channels.join(', ')}` : '',
          ]
            .filter(Boolean)
            .join(' — '),
        )
        .join('; '),
    ],
    ['Webhook type', subscription.format === 'soap' ? 'SOAP' : 'REST'],
    [
      'Status',
      subscription.status + (subscription.disabledReason ? ` (${subscription.disabledReason})` : ''),
    ],
    ['Listener URL', subscription.url],
    ['Include complete data', subscription.includeCompleteData ? 'Yes' : 'No'],
    ['Signature', subscription.signatureScheme === 'ed25519' ? 'Ed25519' : 'HMAC-SHA256'],
  ];
  if (subscription.publicKey) rows.push(['Public key', subscription.publicKey]);
  if (subscription.headers)
    rows.push([
      'Custom headers',
      Object.entries(subscription.headers)
        .map(([name, value]) => `${name}: ${value}`)
        .join('; '),
    ]);
  if (subscription.soap?.action) rows.push(['SOAP action', subscription.soap.action]);
  if (subscription.soap?.parameters)
    rows.push(['SOAP parameters', Object.keys(subscription.soap.parameters).join(', ')]);
  if (subscription.tls?.clientCertificate) rows.push(['Client certificate', 'Set']);
  if (subscription.tls?.serverCa) rows.push(['Server CA', 'Set']);
  if (subscription.failingSince) rows.push(['Failing since', formatTime(subscription.failingSince)]);
  rows.push(['Created', formatTime(subscription.createdAt)], ['Updated', formatTime(subscription.updatedAt)]);
  return (
    <section aria-labelledby="details-heading">
      <h2 id="details-heading">Details</h2>
      <dl class="details">
        {rows.map(([term, value]) => (
          <div key={term}>
            <dt>{term}</dt>
            <dd dir="auto">{value}</dd>
          </div>
        ))}
      </dl>
    </section>
  );
}

/** One subscription's deliveries (newest first), 100 a page; `more` appends the next page. */
function useDeliveries(id: string, version: number, status?: string) {
  const [items, setItems] = useState<Delivery[] | null>(null);
  const [cursor, setCursor] = useState<string | undefined>();
  const [error, setError] = useState<unknown>(null);
  const url = (after?: string) =>
    `${path(id)}/deliveries?limit=100${status ? `&status=${status}` : ''}${after ? `&cursor=${encodeURIComponent(after)}` : ''}`;
  useEffect(() => {
    let current = true;
    api<Page<Delivery>>('GET', url()).then(
      (page) => {
        if (!current) return;
        setItems(page.items);
        setCursor(page.cursor);
        setError(null);
      },
      (failure) => current && setError(failure),
    );
    return () => {
      current = false;
    };
  }, [id, version, status]);
  const more = async () => {
    try {
      const page = await api<Page<Delivery>>('GET', url(cursor));
      setItems((previous) => [...(previous ?? []), ...page.items]);
      setCursor(page.cursor);
    } catch (failure) {
      setError(failure);
    }
  };
  return { items, error, more: cursor ? more : undefined };
}

const lastAttempt = (delivery: Delivery) => delivery.attempts[delivery.attempts.length - 1];

function FailedEvents({ id, version, onChanged }: { id: string; version: number; onChanged: () => void }) {
  const { items, error, more } = useDeliveries(id, version, 'failed');
  const [open, setOpen] = useState<Record<string, string>>({});
  const [message, setMessage] = useState('');
  const [actionError, setActionError] = useState<unknown>(null);
  const now = new Date();
  const [since, setSince] = useState(toLocalInput(new Date(now.getTime() - 24 * 3600 * 1000)));
  const [until, setUntil] = useState(toLocalInput(new Date(now.getTime() + 60 * 1000)));

  const showPayload = async (delivery: Delivery) => {
    if (open[delivery.id] !== undefined) {
      const { [delivery.id]: _, ...rest } = open;
      setOpen(rest);
      return;
    }
    try {
      const full = await api<Delivery>('GET', `${path(id)}/deliveries/${encodeURIComponent(delivery.id)}`);
      setOpen({ ...open, [delivery.id]: full.payload?.body ?? '(the payload is no longer kept)' });
    } catch (failure) {
      setActionError(failure);
    }
  };
  const resend = async (delivery: Delivery) => {
    setActionError(null);
    try {
      await api('POST', `${path(id)}/deliveries/${encodeURIComponent(delivery.id)}/resend`);
      setMessage(`${delivery.entity}.${delivery.event} of ${formatTime(delivery.receivedAt)} queued again.`);
      onChanged();
    } catch (failure) {
      setActionError(failure);
    }
  };
  const replay = async (event: Event) => {
    event.preventDefault();
    setActionError(null);
    try {
      const answer = await api<{ queued: number; truncated: boolean }>('POST', `${path(id)}/replay`, {
        since: new Date(since).toISOString(),
        until: new Date(until).toISOString(),
      });
      setMessage(
        `${answer.queued} deliver${answer.queued === 1 ? 'y' : 'ies'} queued again${answer.truncated ? ' (the range held more: replay the rest next)' : ''}.`,
      );
      onChanged();
    } catch (failure) {
      setActionError(failure);
    }
  };

  return (
    <section aria-labelledby="failed-heading">
      <h2 id="failed-heading">Failed events</h2>
      <p role="status" class="status">
        {message}
      </p>
      <ErrorMessage error={actionError ?? error} />
      {items === null ? (
        error ? null : (
          <Loading what="failed events" />
        )
      ) : items.length === 0 ? (
        <p>No failed event.</p>
      ) : (
        <div class="table-scroll">
          <table class="stacked">
            <caption class="visually-hidden">Failed events, newest first</caption>
            <thead>
              <tr>
                <th scope="col">Time</th>
                <th scope="col">Event</th>
                <th scope="col">HTTP code</th>
                <th scope="col">Error message</th>
                <th scope="col">Payload</th>
                <th scope="col">Resend</th>
              </tr>
            </thead>
            <tbody>
              {items.map((delivery) => {
                const attempt = lastAttempt(delivery);
                const payload = open[delivery.id];
                return (
                  <tr key={delivery.id}>
                    <td data-label="Time">
                      <time dateTime={delivery.receivedAt}>{formatTime(delivery.receivedAt)}</time>
                    </td>
                    <td data-label="Event">
                      {delivery.entity}.{delivery.event}
                    </td>
                    <td data-label="HTTP code">{attempt?.statusCode ?? '—'}</td>
                    <td data-label="Error message">
                      <span dir="auto">{attempt?.error ?? delivery.failureReason ?? '—'}</span>
                    </td>
                    <td data-label="Payload">
                      <button
                        type="button"
                        class="secondary"
                        aria-expanded={payload !== undefined}
                        onClick={() => void showPayload(delivery)}
                      >
                        {payload !== undefined ? 'Hide payload' : 'Show payload'}
                      </button>
                      {payload !== undefined ? <pre class="payload">{payload}</pre> : null}
                    </td>
                    <td data-label="Resend">
                      <button type="button" onClick={() => void resend(delivery)}>
                        Resend
                      </button>
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
      {more ? (
        <button type="button" class="secondary" onClick={() => void more()}>
          Show more failed events
        </button>
      ) : null}
      <form class="replay" onSubmit={replay} aria-labelledby="replay-heading">
        <h3 id="replay-heading">Replay a time range</h3>
        <p class="hint" id="replay-hint">
          Sends again every delivery of this subscription whose event arrived in the range (times in{' '}
          {viewerTimeZone()}).
        </p>
        <div class="inline-fields">
          <div class="field">
            <label for="replay-since">From</label>
            <input
              id="replay-since"
              type="datetime-local"
              value={since}
              onInput={(e) => setSince(e.currentTarget.value)}
              aria-describedby="replay-hint"
            />
          </div>
          <div class="field">
            <label for="replay-until">Until</label>
            <input
              id="replay-until"
              type="datetime-local"
              value={until}
              onInput={(e) => setUntil(e.currentTarget.value)}
            />
          </div>
          <button type="submit">Replay</button>
        </div>
      </form>
    </section>
  );
}

function Deliveries({ id, version, onRefresh }: { id: string; version: number; onRefresh: () => void }) {
  const { items, error, more } = useDeliveries(id, version);
  return (
    <section aria-labelledby="deliveries-heading">
      <h2 id="deliveries-heading">Deliveries</h2>
      <button type="button" class="secondary" onClick={onRefresh}>
        Refresh deliveries
      </button>
      <ErrorMessage error={error} />
      {items === null ? (
        error ? null : (
          <Loading what="deliveries" />
        )
      ) : items.length === 0 ? (
        <p>No delivery yet. Send a test event to see one here.</p>
      ) : (
        <ul class="deliveries">
          {items.map((delivery) => (
            <li key={delivery.id}>
              <details>
                <summary>
                  <time dateTime={delivery.receivedAt}>{formatTime(delivery.receivedAt)}</time>{' '}
                  <span>
                    {delivery.entity}.{delivery.event}
                  </span>{' '}
                  <span class={`badge ${delivery.status}`}>{delivery.status}</span>{' '}
                  <span>
                    {delivery.attempts.length} attempt{delivery.attempts.length === 1 ? '' : 's'}
                  </span>
                </summary>
                {delivery.attempts.length === 0 ? (
                  <p>
                    No attempt yet
                    {delivery.nextAttemptAt ? `; the next at ${formatTime(delivery.nextAttemptAt)}` : ''}.
                  </p>
                ) : (
                  <table>
                    <caption class="visually-hidden">Attempts of this delivery</caption>
                    <thead>
                      <tr>
                        <th scope="col">Attempt</th>
                        <th scope="col">Time</th>
                        <th scope="col">HTTP code</th>
                        <th scope="col">Duration</th>
                        <th scope="col">Error message</th>
                      </tr>
                    </thead>
                    <tbody>
                      {delivery.attempts.map((attempt) => (
                        <tr key={attempt.attempt}>
                          <td>{attempt.attempt}</td>
                          <td>
                            <time dateTime={attempt.at}>{formatTime(attempt.at)}</time>
                          </td>
                          <td>{attempt.statusCode ?? '—'}</td>
                          <td>{attempt.durationMs} ms</td>
                          <td dir="auto">{attempt.error ?? '—'}</td>
                        </tr>
                      ))}
                    </tbody>
                  </table>
                )}
              </details>
            </li>
          ))}
        </ul>
      )}
      {more ? (
        <button type="button" class="secondary" onClick={() => void more()}>
          Show more deliveries
        </button>
      ) : null}
    </section>
  );
}
