import { useEffect, useState } from 'preact/hooks';
import { api, type Page, type Subscription } from './api.js';
import { SubscriptionForm } from './subscription-form.js';
import { ErrorMessage, Loading, ScreenHeading, SecretPanel, secretOf } from './ui.js';

export function SubscriptionList() {
  const [items, setItems] = useState<Subscription[] | null>(null);
  const [cursor, setCursor] = useState<string | undefined>();
  const [error, setError] = useState<unknown>(null);
  const [adding, setAdding] = useState(false);
  const [created, setCreated] = useState<{ label: string; value: string; name: string } | null>(null);

  const load = async (after?: string) => {
    setError(null);
    try {
      const page = await api<Page<Subscription>>(
        'GET',
        `/subscriptions?limit=100${after ? `&cursor=${encodeURIComponent(after)}` : ''}`,
      );
      setItems((previous) => (after && previous ? [...previous, ...page.items] : page.items));
      setCursor(page.cursor);
    } catch (failure) {
      setError(failure);
    }
  };
  useEffect(() => {
    void load();
  }, []);

  return (
    <>
      <ScreenHeading>Subscriptions</ScreenHeading>
      {created ? (
        <>
          <p role="status" class="success" dir="auto">
            Subscription “{created.name}” created.
          </p>
          <SecretPanel label={created.label} value={created.value} onDone={() => setCreated(null)} />
        </>
      ) : null}
      {adding ? (
        <SubscriptionForm
          onCancel={() => setAdding(false)}
          onSaved={(subscription) => {
            setAdding(false);
            const secret = secretOf(subscription);
            setCreated(secret ? { ...secret, name: subscription.name } : null);
            void load();
          }}
        />
      ) : (
        <p>
          <button type="button" onClick={() => setAdding(true)}>
            Add subscription
          </button>
        </p>
      )}
      <ErrorMessage error={error} />
      {items === null ? (
        error ? null : (
          <Loading what="subscriptions" />
        )
      ) : items.length === 0 ? (
        <p>No subscription yet. Add one to start receiving webhooks.</p>
      ) : (
        <div class="table-scroll">
          <table class="stacked">
            <caption class="visually-hidden">The brand's subscriptions</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Entity</th>
                <th scope="col">Events</th>
                <th scope="col">Webhook type</th>
                <th scope="col">Status</th>
                <th scope="col">Listener URL</th>
              </tr>
            </thead>
            <tbody>
              {items.map((subscription) => (
                <tr key={subscription.id}>
                  <td data-label="Name">
                    <a dir="auto" href={`#/subscriptions/${encodeURIComponent(subscription.id)}`}>
                      {subscription.name}
                    </a>
                  </td>
                  <td data-label="Entity">{subscription.entity}</td>
                  <td data-label="Events">{subscription.events.map((event) => event.name).join(', ')}</td>
                  <td data-label="Webhook type">{subscription.format === 'soap' ? 'SOAP' : 'REST'}</td>
                  <td data-label="Status">
                    <span class={`badge ${subscription.status}`}>{subscription.status}</span>
                  </td>
                  <td data-label="Listener URL" class="url">
                    {subscription.url}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {cursor ? (
        <button type="button" class="secondary" onClick={() => void load(cursor)}>
          Show more subscriptions
        </button>
      ) : null}
    </>
  );
}
