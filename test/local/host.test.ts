import { describe, expect, it } from 'vitest';
import { isLoopback } from '../../local/stack.js';

/*
 * Whether the API's address is loopback decides the local runtime's default for listeners: on loopback,
 * local targets are allowed; bound anywhere else (a single-machine deployment), the SSRF guard of the AWS
 * shape applies unless the operator allows them.
 */
describe('isLoopback', () => {
  it.each(['127.0.0.1', '127.1.2.3', '::1', 'localhost'])('takes %s for loopback', (host) => {
    expect(isLoopback(host)).toBe(true);
  });

  it.each(['0.0.0.0', '::', '10.0.0.8', '192.168.1.20', 'example.com', '127.0.0.1.example.com'])(
    'takes %s for an address beyond this machine',
    (host) => {
      expect(isLoopback(host)).toBe(false);
    },
  );
});
