import { describe, expect, it } from 'vitest';
import { readConfig } from '../../lambdas/config.js';
import { ENV } from '../../lambdas/environment.js';

describe("the handlers' configuration", () => {
  const base = { [ENV.tableName]: 'webhooks' };

  it("reads the service's own loopback ports, refused as listeners, from comma-separated numbers", () => {
    expect(readConfig({ ...base, [ENV.refusedListenerPorts]: '3000, 4566' }).refusedListenerPorts).toEqual([
      3000, 4566,
    ]);
    expect(readConfig(base).refusedListenerPorts).toEqual([]);
  });

  it.each(['abc', '0', '65536', '3000,'])('refuses %j as a list of ports', (ports) => {
    expect(() => readConfig({ ...base, [ENV.refusedListenerPorts]: ports })).toThrow(
      ENV.refusedListenerPorts,
    );
  });

  it("reads an open circuit's first and longest cool-down (tests), and leaves the breaker's defaults when unset", () => {
    expect(readConfig({ ...base, [ENV.circuitCooldownSeconds]: '2, 5' }).circuitCooldownSeconds).toEqual([
      2, 5,
    ]);
    expect(readConfig(base).circuitCooldownSeconds).toBeUndefined();
  });

  it.each(['5,2', '2', '0,5', '2,5,9', 'a,b'])('refuses %j as cool-downs, naming the variable', (value) => {
    expect(() => readConfig({ ...base, [ENV.circuitCooldownSeconds]: value })).toThrow(
      ENV.circuitCooldownSeconds,
    );
  });

  it('reads the dedicated lanes as JSON, brand to queue URL, and none when unset', () => {
    const lanes = { 'big-brand': 'https://sqs.eu-west-1.amazonaws.com/1/big' };
    expect(readConfig({ ...base, [ENV.dedicatedLanes]: JSON.stringify(lanes) }).dedicatedLanes).toEqual(
      lanes,
    );
    expect(readConfig(base).dedicatedLanes).toEqual({});
  });

  it.each(['big-brand', '["big-brand"]', '{"big-brand": 3}', '{"big-brand": ""}'])(
    'refuses %j as dedicated lanes, naming the variable',
    (lanes) => {
      expect(() => readConfig({ ...base, [ENV.dedicatedLanes]: lanes })).toThrow(ENV.dedicatedLanes);
    },
  );
});
