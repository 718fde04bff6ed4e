import type { ComponentChildren } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, api, type CatalogueEntity, type FieldIssue, type Subscription } from './api.js';
import { ErrorMessage, Loading } from './ui.js';

let catalogue: Promise<CatalogueEntity[]> | undefined;
/** `GET /event-types`, once per page load: entities, their events and the events' components. */
function loadCatalogue(): Promise<CatalogueEntity[]> {
  catalogue ??= api<{ entities: CatalogueEntity[] }>('GET', '/event-types').then((answer) => answer.entities);
  catalogue.catch(() => {
    catalogue = undefined;
  });
  return catalogue;
}

interface Chosen {
  activityTypes: number[];
  channels: string;
}

type Errors = Record<string, string>;

/** What the API shows instead of a secret value (a custom header or a SOAP parameter). */
const REDACTED = '[redacted]';

/** The control an API issue belongs beside (its `field` is a dotted path into the request body). */
export function controlOf(field: string): string | undefined {
  const [head = '', second] = field.split('.');
  if (['name', 'entity', 'url', 'format', 'includeCompleteData', 'signatureScheme'].includes(head))
    return head;
  if (head === 'events') return 'events';
  if (head === 'headers' || head === 'publicHeaders') return 'headers';
  if (head === 'soap') return second === 'action' ? 'soapAction' : 'soapParameters';
  if (head === 'tls') return second ?? 'clientCertificate';
  return undefined;
}

function linesOf(text: string, separator: ':' | '='): Record<string, string> | string {
  const result: Record<string, string> = {};
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const at = line.indexOf(separator);
    if (at <= 0) return `Write one “name${separator} value” per line.`;
    result[line.slice(0, at).trim()] = line.slice(at + 1).trim();
  }
  return result;
}

const textOf = (record: Record<string, string> | undefined, separator: string) =>
  Object.entries(record ?? {})
    .map(([name, value]) => `${name}${separator} ${value}`)
    .join('\n');

export function SubscriptionForm({
  existing,
  onSaved,
  onCancel,
}: {
  existing?: Subscription;
  onSaved: (subscription: Subscription) => void;
  onCancel: () => void;
}) {
  const [entities, setEntities] = useState<CatalogueEntity[] | null>(null);
  const [loadError, setLoadError] = useState<unknown>(null);
  const [name, setName] = useState(existing?.name ?? '');
  const [entity, setEntity] = useState(existing?.entity ?? 'Object');
  const [events, setEvents] = useState<Record<string, Chosen>>(() =>
    Object.fromEntries(
      (existing?.events ?? []).map((event) => [
        event.name,
        { activityTypes: event.activityTypes ?? [], channels: (event.channels ?? []).join(', ') },
      ]),
    ),
  );
  const [url, setUrl] = useState(existing?.url ?? '');
  const [format, setFormat] = useState<'json' | 'soap'>(existing?.format ?? 'json');
  const [includeCompleteData, setIncludeCompleteData] = useState(existing?.includeCompleteData ?? false);
  const initialHeaders = textOf(existing?.headers, ':');
  const [headers, setHeaders] = useState(initialHeaders);
  const [signatureScheme, setSignatureScheme] = useState(existing?.signatureScheme ?? 'hmac-sha256');
  const [clientCertificate, setClientCertificate] = useState('');
  const [clientKey, setClientKey] = useState('');
  const [clientKeyPassphrase, setClientKeyPassphrase] = useState('');
  const [serverCa, setServerCa] = useState('');
  const [soapAction, setSoapAction] = useState(existing?.soap?.action ?? '');
  const initialParameters = textOf(existing?.soap?.parameters, '=');
  const [soapParameters, setSoapParameters] = useState(initialParameters);
  const [errors, setErrors] = useState<Errors>({});
  const [formError, setFormError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const formRef = useRef<HTMLFormElement>(null);
  const [failures, setFailures] = useState(0);
  // After a refusal, the first field named takes the focus (its message beside it), else the summary.
  useEffect(() => {
    if (failures === 0) return;
    const form = formRef.current;
    const invalid = form?.querySelector<HTMLElement>('[aria-invalid="true"]');
    const target = invalid?.tagName === 'FIELDSET' ? invalid.querySelector<HTMLElement>('input') : invalid;
    target?.focus();
  }, [failures]);

  useEffect(() => {
    loadCatalogue().then(setEntities, setLoadError);
  }, []);
  useEffect(() => {
    formRef.current?.querySelector<HTMLElement>('input, select')?.focus();
  }, [entities === null]);

  if (loadError) return <ErrorMessage error={loadError} />;
  if (!entities) return <Loading what="the event catalogue" />;
  const entityEvents = entities.find((candidate) => candidate.entity === entity)?.events ?? [];

  const toggleEvent = (eventName: string, checked: boolean) =>
    setEvents((previous) => {
      const next = { ...previous };
      if (checked) next[eventName] = { activityTypes: [], channels: '' };
      else delete next[eventName];
      return next;
    });
  const updateChosen = (eventName: string, change: Partial<Chosen>) =>
    setEvents((previous) => {
      const current = previous[eventName];
      return current ? { ...previous, [eventName]: { ...current, ...change } } : previous;
    });

  /** The request body, or the mistakes found before asking the API. */
  const body = (): { request: Record<string, unknown> } | { errors: Errors } => {
    const errors: Errors = {};
    const headerRecord = linesOf(headers, ':');
    const parameterRecord = linesOf(soapParameters, '=');
    if (typeof headerRecord === 'string') errors.headers = headerRecord;
    if (typeof parameterRecord === 'string') errors.soapParameters = parameterRecord;
    // Values shown as [redacted] are secrets the console never had: a change replaces the whole set.
    const headersChanged = headers !== initialHeaders;
    const parametersChanged = soapParameters !== initialParameters;
    const actionChanged = soapAction !== (existing?.soap?.action ?? '');
    if (existing && headersChanged && typeof headerRecord !== 'string') {
      if (Object.values(headerRecord).includes(REDACTED))
        errors.headers = `Type every value again: values shown as ${REDACTED} are secret, and a change replaces them all.`;
    }
    if (existing?.soap?.parameters && format === 'soap' && (actionChanged || parametersChanged)) {
      if (typeof parameterRecord !== 'string' && Object.values(parameterRecord).includes(REDACTED))
        errors.soapParameters = `Type every value again: values shown as ${REDACTED} are secret, and a change replaces them all.`;
    }
    if (
      typeof headerRecord === 'string' ||
      typeof parameterRecord === 'string' ||
      Object.keys(errors).length > 0
    )
      return { errors };
    const selected = entityEvents
      .filter((event) => events[event.name])
      .map((event) => {
        const chosen = events[event.name] as Chosen;
        const channels = chosen.channels
          .split(',')
          .map((id) => id.trim())
          .filter((id) => id !== '');
        return {
          name: event.name,
          ...(chosen.activityTypes.length > 0 ? { activityTypes: chosen.activityTypes } : {}),
          ...(channels.length > 0 ? { channels } : {}),
        };
      });
    const tls = Object.fromEntries(
      Object.entries({ clientCertificate, clientKey, clientKeyPassphrase, serverCa }).filter(
        ([, value]) => value.trim() !== '',
      ),
    );
    const request: Record<string, unknown> = {
      name,
      entity,
      events: selected,
      url: url.trim(),
      format,
      includeCompleteData,
      signatureScheme,
    };
    if (!existing || headersChanged) {
      if (Object.keys(headerRecord).length > 0) request.headers = headerRecord;
      else if (existing) request.headers = null;
    }
    if (format === 'soap') {
      const soap = {
        ...(soapAction.trim() !== '' ? { action: soapAction.trim() } : {}),
        ...(Object.keys(parameterRecord).length > 0 ? { parameters: parameterRecord } : {}),
      };
      // Unchanged, the stored SOAP options (their secret parameters included) are kept as they are.
      if (!existing || actionChanged || parametersChanged || existing.format !== 'soap')
        request.soap = Object.keys(soap).length > 0 ? soap : existing ? null : undefined;
    } else if (existing?.soap) request.soap = null;
    if (request.soap === undefined) delete request.soap;
    if (Object.keys(tls).length > 0) request.tls = tls;
    return { request };
  };

  const submit = async (event: Event) => {
    event.preventDefault();
    setErrors({});
    setFormError(null);
    const built = body();
    if ('errors' in built) {
      setErrors(built.errors);
      setFailures((count) => count + 1);
      return;
    }
    const { request } = built;
    setBusy(true);
    try {
      const saved = existing
        ? await api<Subscription>('PATCH', `/subscriptions/${encodeURIComponent(existing.id)}`, request)
        : await api<Subscription>('POST', '/subscriptions', request);
      onSaved(saved);
    } catch (failure) {
      const { placed, rest } = placeIssues(failure instanceof ApiError ? failure.details : []);
      setErrors(placed);
      const summary =
        failure instanceof ApiError && failure.details.length > 0
          ? `The subscription was not saved: ${Object.keys(placed).length + rest.length} field(s) need a change.`
          : failure instanceof Error
            ? failure.message
            : String(failure);
      setFormError([summary, ...rest.map((issue) => `${issue.field}: ${issue.message}`)].join(' '));
      setFailures((count) => count + 1);
    } finally {
      setBusy(false);
    }
  };

  const err = (control: string) => errors[control];
  const described = (control: string, hint?: boolean) =>
    [hint ? `${control}-hint` : '', err(control) ? `${control}-error` : ''].filter(Boolean).join(' ') ||
    undefined;
  const invalid = (control: string) => (err(control) ? 'true' : undefined);

  return (
    <section class="panel" aria-labelledby="form-heading">
      <h2 id="form-heading">{existing ? 'Edit subscription' : 'Add subscription'}</h2>
      <form ref={formRef} onSubmit={submit} noValidate>
        {formError ? (
          <p class="error" role="alert">
            {formError}
          </p>
        ) : null}
        <Field id="name" label="Name" error={err('name')}>
          <input
            id="name"
            dir="auto"
            value={name}
            onInput={(e) => setName(e.currentTarget.value)}
            aria-invalid={invalid('name')}
            aria-describedby={described('name')}
          />
        </Field>
        <Field id="entity" label="Entity" error={err('entity')}>
          <select
            id="entity"
            value={entity}
            onChange={(e) => {
              setEntity(e.currentTarget.value);
              setEvents({});
            }}
            aria-invalid={invalid('entity')}
            aria-describedby={described('entity')}
          >
            {entities.map((candidate) => (
              <option key={candidate.entity} value={candidate.entity}>
                {candidate.entity}
              </option>
            ))}
          </select>
        </Field>
        <fieldset aria-invalid={invalid('events')} aria-describedby={described('events')}>
          <legend>Events</legend>
          {entityEvents.map((definition) => {
            const chosen = events[definition.name];
            return (
              <div key={definition.name} class="event">
                <div class="check">
                  <input
                    type="checkbox"
                    id={`event-${definition.name}`}
                    checked={chosen !== undefined}
                    onChange={(e) => toggleEvent(definition.name, e.currentTarget.checked)}
                    aria-describedby={`event-${definition.name}-hint`}
                  />
                  <label for={`event-${definition.name}`}>{definition.name}</label>
                  <span id={`event-${definition.name}-hint`} class="hint">
                    {definition.description}
                  </span>
                </div>
                {chosen
                  ? definition.components.map((component) =>
                      component.values ? (
                        <fieldset key={component.name} class="components">
                          <legend>Activity types for {definition.name} (none: every type)</legend>
                          <div class="choices">
                            {component.values.map((value) => (
                              <div class="check" key={value.id}>
                                <input
                                  type="checkbox"
                                  id={`${definition.name}-type-${value.id}`}
                                  checked={chosen.activityTypes.includes(value.id)}
                                  onChange={(e) =>
                                    updateChosen(definition.name, {
                                      activityTypes: e.currentTarget.checked
                                        ? [...chosen.activityTypes, value.id]
                                        : chosen.activityTypes.filter((id) => id !== value.id),
                                    })
                                  }
                                />
                                <label for={`${definition.name}-type-${value.id}`}>{value.name}</label>
                              </div>
                            ))}
                          </div>
                        </fieldset>
                      ) : (
                        <div class="field components" key={component.name}>
                          <label for={`${definition.name}-channels`}>Channels for {definition.name}</label>
                          <input
                            id={`${definition.name}-channels`}
                            value={chosen.channels}
                            inputMode="numeric"
                            onInput={(e) =>
                              updateChosen(definition.name, { channels: e.currentTarget.value })
                            }
                            aria-describedby={`${definition.name}-channels-hint`}
                          />
                          <p class="hint" id={`${definition.name}-channels-hint`}>
                            Channel (stream) ids, separated by commas; empty: every channel.
                          </p>
                        </div>
                      ),
                    )
                  : null}
              </div>
            );
          })}
          {err('events') ? (
            <p id="events-error" class="error">
              {err('events')}
            </p>
          ) : null}
        </fieldset>
        <Field id="url" label="Listener URL" error={err('url')}>
          <input
            id="url"
            type="url"
            inputMode="url"
            placeholder="https://listener.example.com/webhooks"
            value={url}
            onInput={(e) => setUrl(e.currentTarget.value)}
            aria-invalid={invalid('url')}
            aria-describedby={described('url')}
          />
        </Field>
        <fieldset aria-invalid={invalid('format')} aria-describedby={described('format')}>
          <legend>Webhook type</legend>
          <div class="choices">
            {(
              [
                ['json', 'REST'],
                ['soap', 'SOAP'],
              ] as const
            ).map(([value, label]) => (
              <div class="check" key={value}>
                <input
                  type="radio"
                  name="format"
                  id={`format-${value}`}
                  value={value}
                  checked={format === value}
                  onChange={() => setFormat(value)}
                />
                <label for={`format-${value}`}>{label}</label>
              </div>
            ))}
          </div>
          {err('format') ? (
            <p id="format-error" class="error">
              {err('format')}
            </p>
          ) : null}
        </fieldset>
        {format === 'soap' ? (
          <>
            <Field id="soapAction" label="SOAP action" error={err('soapAction')}>
              <input
                id="soapAction"
                value={soapAction}
                onInput={(e) => setSoapAction(e.currentTarget.value)}
                aria-invalid={invalid('soapAction')}
                aria-describedby={described('soapAction')}
              />
            </Field>
            <Field
              id="soapParameters"
              label="SOAP parameters"
              hint="One “name = value” per line, sent in the SOAP header. Values are secrets: shown as [redacted] afterwards."
              error={err('soapParameters')}
            >
              <textarea
                id="soapParameters"
                rows={3}
                value={soapParameters}
                onInput={(e) => setSoapParameters(e.currentTarget.value)}
                aria-invalid={invalid('soapParameters')}
                aria-describedby={described('soapParameters', true)}
              />
            </Field>
          </>
        ) : null}
        <div class="field check">
          <input
            type="checkbox"
            id="includeCompleteData"
            checked={includeCompleteData}
            onChange={(e) => setIncludeCompleteData(e.currentTarget.checked)}
            aria-describedby="includeCompleteData-hint"
          />
          <label for="includeCompleteData">Include complete data</label>
          <span id="includeCompleteData-hint" class="hint">
            Send the whole event, not only its identifiers.
          </span>
        </div>
        <Field
          id="headers"
          label="Custom headers"
          hint="One “Name: value” per line, sent with every webhook. Values are shown as [redacted] afterwards."
          error={err('headers')}
        >
          <textarea
            id="headers"
            rows={3}
            value={headers}
            onInput={(e) => setHeaders(e.currentTarget.value)}
            aria-invalid={invalid('headers')}
            aria-describedby={described('headers', true)}
          />
        </Field>
        <Field id="signatureScheme" label="Signature" error={err('signatureScheme')}>
          <select
            id="signatureScheme"
            value={signatureScheme}
            disabled={existing !== undefined}
            onChange={(e) => setSignatureScheme(e.currentTarget.value as 'hmac-sha256' | 'ed25519')}
            aria-describedby={described('signatureScheme')}
          >
            <option value="hmac-sha256">HMAC-SHA256 (a shared secret)</option>
            <option value="ed25519">Ed25519 (a public key)</option>
          </select>
        </Field>
        <fieldset>
          <legend>Client certificate (mutual TLS, optional)</legend>
          {existing?.tls ? <p class="hint">A certificate is set; leave these empty to keep it.</p> : null}
          {(
            [
              ['clientCertificate', 'Client certificate (PEM)', clientCertificate, setClientCertificate],
              ['clientKey', 'Client key (PEM)', clientKey, setClientKey],
              ['serverCa', 'Server CA (PEM)', serverCa, setServerCa],
            ] as const
          ).map(([id, label, value, set]) => (
            <Field key={id} id={id} label={label} error={err(id)}>
              <textarea
                id={id}
                rows={3}
                class="mono"
                spellcheck={false}
                value={value}
                onInput={(e) => set(e.currentTarget.value)}
                aria-invalid={invalid(id)}
                aria-describedby={described(id)}
              />
            </Field>
          ))}
          <Field id="clientKeyPassphrase" label="Client key passphrase" error={err('clientKeyPassphrase')}>
            <input
              id="clientKeyPassphrase"
              type="password"
              autocomplete="off"
              value={clientKeyPassphrase}
              onInput={(e) => setClientKeyPassphrase(e.currentTarget.value)}
              aria-invalid={invalid('clientKeyPassphrase')}
              aria-describedby={described('clientKeyPassphrase')}
            />
          </Field>
        </fieldset>
        <div class="actions">
          <button type="submit" disabled={busy}>
            {existing ? 'Save changes' : 'Create subscription'}
          </button>
          <button type="button" class="secondary" onClick={onCancel}>
            Cancel
          </button>
          {busy ? (
            <span role="status" class="status">
              Saving…
            </span>
          ) : null}
        </div>
      </form>
    </section>
  );
}

function placeIssues(details: readonly FieldIssue[]): { placed: Errors; rest: FieldIssue[] } {
  const placed: Errors = {};
  const rest: FieldIssue[] = [];
  for (const issue of details) {
    const control = controlOf(issue.field);
    if (!control) {
      rest.push(issue);
      continue;
    }
    const label = issue.field.includes('.') ? `${issue.field}: ${issue.message}` : issue.message;
    placed[control] = placed[control] ? `${placed[control]}; ${label}` : label;
  }
  return { placed, rest };
}

function Field({
  id,
  label,
  hint,
  error,
  children,
}: {
  id: string;
  label: string;
  hint?: string;
  error?: string | undefined;
  children: ComponentChildren;
}) {
  return (
    <div class="field">
      <label for={id}>{label}</label>
      {children}
      {hint ? (
        <p id={`${id}-hint`} class="hint">
          {hint}
        </p>
      ) : null}
      {error ? (
        <p id={`${id}-error`} class="error">
          {error}
        </p>
      ) : null}
    </div>
  );
}
