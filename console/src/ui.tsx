import type { ComponentChildren } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError } from './api.js';

/** A heading that takes the focus when its screen opens, so a keyboard or screen-reader user starts there. */
export function ScreenHeading({ children }: { children: ComponentChildren }) {
  const ref = useRef<HTMLHeadingElement>(null);
  useEffect(() => ref.current?.focus(), []);
  return (
    <h1 ref={ref} tabIndex={-1} dir="auto">
      {children}
    </h1>
  );
}

export function ErrorMessage({ error }: { error: unknown }) {
  if (!error) return null;
  const message = error instanceof ApiError || error instanceof Error ? error.message : String(error);
  return (
    <p class="error" role="alert">
      {message}
    </p>
  );
}

export function Loading({ what }: { what: string }) {
  return (
    <p class="status" role="status">
      Loading {what}…
    </p>
  );
}

/** The signing secret (or public key), shown once, with a copy button. */
export function SecretPanel({ label, value, onDone }: { label: string; value: string; onDone: () => void }) {
  const [copied, setCopied] = useState(false);
  const ref = useRef<HTMLInputElement>(null);
  useEffect(() => {
    ref.current?.focus();
    ref.current?.select();
  }, []);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(value);
      setCopied(true);
    } catch {
      // Without clipboard access (a frame that was not allowed it), select it for the user to copy.
      ref.current?.focus();
      ref.current?.select();
    }
  };
  return (
    <section class="secret" aria-labelledby="secret-heading">
      <h2 id="secret-heading">{label}</h2>
      {label === 'Public key' ? (
        <p id="secret-once">
          Your listener verifies the signature of every webhook with this public key (Ed25519). It is not a
          secret: the subscription's page shows it too.
        </p>
      ) : (
        <p id="secret-once">
          <strong>This {label.toLowerCase()} will not be shown again.</strong> Copy it now and keep it where
          your listener can read it: it verifies the signature of every webhook.
        </p>
      )}
      <div class="field">
        <label for="secret-value">{label}</label>
        <input
          id="secret-value"
          ref={ref}
          readOnly
          class="mono secret-value"
          value={value}
          spellcheck={false}
          aria-describedby="secret-once"
        />
      </div>
      <div class="actions">
        <button type="button" onClick={copy}>
          Copy {label.toLowerCase()}
        </button>
        <button type="button" class="secondary" onClick={onDone}>
          I have stored it
        </button>
      </div>
      <p role="status" class="status">
        {copied ? 'Copied to the clipboard.' : ''}
      </p>
    </section>
  );
}

/** The secret or public key a create or rotate answer carries, with its label. */
export function secretOf(answer: {
  secret?: string;
  publicKey?: string;
}): { label: string; value: string } | null {
  if (answer.secret) return { label: 'Signing secret', value: answer.secret };
  if (answer.publicKey) return { label: 'Public key', value: answer.publicKey };
  return null;
}
