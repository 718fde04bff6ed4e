import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { api, credential, signIn, signOut, takeSessionFromLink, whenRefused } from './api.js';
import { SubscriptionList } from './subscription-list.js';
import { SubscriptionPage } from './subscription-page.js';
import { ErrorMessage, ScreenHeading } from './ui.js';
import './styles.css';

/** Whether the credential in use came from a console link (for the message when it is refused). */
let fromLink = takeSessionFromLink();

/** `#/subscriptions/<id>`: one subscription; anything else: the list. */
function routeOf(hash: string): { page: 'list' } | { page: 'subscription'; id: string } {
  const match = /^#\/subscriptions\/([^/]+)$/.exec(hash);
  return match?.[1] ? { page: 'subscription', id: decodeURIComponent(match[1]) } : { page: 'list' };
}

function App() {
  const [signedIn, setSignedIn] = useState(credential() !== null);
  const [notice, setNotice] = useState<string | null>(null);
  const [route, setRoute] = useState(routeOf(location.hash));
  /** Bumped when a console link replaces the credential in an open console: every screen loads anew. */
  const [generation, setGeneration] = useState(0);

  useEffect(() => {
    whenRefused(() => {
      signOut();
      setSignedIn(false);
      setNotice(
        fromLink
          ? 'This console link has expired or was revoked. Open a new link, or sign in with an API key.'
          : 'The API key was refused. Sign in again.',
      );
    });
    const onHash = () => {
      // A console link opened in a tab that already shows the console changes only the fragment: no
      // page load, so the token is taken here as well.
      if (takeSessionFromLink()) {
        fromLink = true;
        setNotice(null);
        setSignedIn(true);
        setGeneration((value) => value + 1);
      }
      setRoute(routeOf(location.hash));
    };
    addEventListener('hashchange', onHash);
    return () => removeEventListener('hashchange', onHash);
  }, []);

  if (!signedIn) {
    return (
      <SignIn
        notice={notice}
        onSignedIn={() => {
          fromLink = false;
          setNotice(null);
          setSignedIn(true);
        }}
      />
    );
  }
  return (
    <>
      <header class="bar">
        <a href="#/" class="brand">
          Webhooks console
        </a>
        <button
          type="button"
          class="secondary"
          onClick={() => {
            signOut();
            setSignedIn(false);
          }}
        >
          Sign out
        </button>
      </header>
      <main key={generation}>
        {route.page === 'subscription' ? (
          <SubscriptionPage key={route.id} id={route.id} />
        ) : (
          <SubscriptionList />
        )}
      </main>
    </>
  );
}

function SignIn({ notice, onSignedIn }: { notice: string | null; onSignedIn: () => void }) {
  const [key, setKey] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (event: Event) => {
    event.preventDefault();
    if (key.trim() === '') {
      setError('Enter the API key of your brand.');
      return;
    }
    setBusy(true);
    setError(null);
    signIn(key.trim());
    try {
      // One cheap call proves the key before the screens open.
      await api('GET', '/subscriptions?limit=1', undefined, { signingIn: true });
      onSignedIn();
    } catch (failure) {
      signOut();
      setError(failure instanceof Error ? failure.message : String(failure));
    } finally {
      setBusy(false);
    }
  };
  return (
    <main class="sign-in">
      <ScreenHeading>Webhooks console</ScreenHeading>
      {notice ? <ErrorMessage error={notice} /> : null}
      <form onSubmit={submit} noValidate>
        <div class="field">
          <label for="api-key">API key</label>
          <input
            id="api-key"
            type="password"
            autocomplete="off"
            spellcheck={false}
            value={key}
            onInput={(event) => setKey(event.currentTarget.value)}
            aria-invalid={error ? 'true' : undefined}
            aria-describedby={error ? 'api-key-error' : 'api-key-hint'}
          />
          <p id="api-key-hint" class="hint">
            Kept in this browser tab only, until you sign out or close it.
          </p>
          {error ? (
            <p id="api-key-error" class="error" role="alert">
              {error}
            </p>
          ) : null}
        </div>
        <button type="submit" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </main>
  );
}

const root = document.getElementById('app');
if (root) {
  root.textContent = '';
  render(<App />, root);
}
