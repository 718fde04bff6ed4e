import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Focused tests must never reach main.
    allowOnly: false,
    restoreMocks: true,
  },
});
