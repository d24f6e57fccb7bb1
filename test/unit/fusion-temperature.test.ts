// The fusion temperature schedules against temperatures computed by hand: linear over the planned steps, and
// AdapterHub's 0.05 lower after every forward call, evaluation calls included.
import { describe, expect, it } from 'vitest';
import { adapterHubTemperature, FusionTemperature, temperatureAt } from '../../fusion/fusion-model';
import { FUSION_PRESETS, FusionOptions } from '../../fusion/fusion-options';
import { validateConfig } from '../../src/index';

const on = { ...FUSION_PRESETS.create('dynamic'), temperature: true };

describe('AdapterHub temperature', () => {
  it('starts at 50 and loses 0.05 per forward call in float64 steps, down to 1 and no lower', () => {
    // Python: T = 50.0; T = max(T - 50.0 / 1000.0, 1.0) after each call.
    expect([0, 1, 2, 3, 4].map(adapterHubTemperature)).toEqual([50, 49.95, 49.900000000000006, 49.85000000000001, 49.80000000000001]);
    expect(adapterHubTemperature(20)).toBe(49.00000000000006);
    expect(adapterHubTemperature(979)).toBe(1.0500000000007026);
    expect(adapterHubTemperature(980)).toBe(1.0000000000007025);
    expect([981, 982, 5000].map(adapterHubTemperature)).toEqual([1, 1, 1]);
  });

  it('advances on evaluation calls too, and records where it went', () => {
    const temperature = new FusionTemperature(on, 'adapterhub', 100);
    expect(temperature.training(1)).toBe(50);
    expect(temperature.training(1)).toBe(49.95); // a second micro-batch of step 1
    expect([temperature.evaluation(1), temperature.evaluation(1)]).toEqual([49.900000000000006, 49.85000000000001]);
    expect(temperature.training(2)).toBe(49.80000000000001);
    expect(temperature.atStep(1)).toBe(49.95);
    expect(temperature.atStep(2)).toBe(49.80000000000001);
    expect(temperature.record(2)).toEqual({ schedule: 'adapterhub', start: 50, forwardCalls: 5, end: 49.750000000000014, atBestStep: 49.80000000000001 });
  });
});

describe('linear temperature', () => {
  it('falls from 50 at the first step to 1 at the last planned one, whatever evaluation does', () => {
    const temperature = new FusionTemperature(on, 'linear', 5);
    expect(temperature.training(1)).toBe(50);
    expect(temperature.evaluation(1)).toBe(50);
    expect(temperature.evaluation(1)).toBe(50);
    expect([2, 3, 4, 5].map((step) => temperature.training(step))).toEqual([37.75, 25.5, 13.25, 1]);
    expect(temperature.training(9)).toBe(1);
    expect(temperature.atStep(3)).toBe(25.5);
    expect(temperature.record(3)).toEqual({ schedule: 'linear', start: 50, end: 1, totalSteps: 5, atBestStep: 25.5 });
    expect(temperatureAt(3, 5, on)).toBe(25.5);
  });

  it('is 1 throughout, in either schedule, without temperature', () => {
    for (const schedule of ['linear', 'adapterhub'] as const) {
      const off = new FusionTemperature(FUSION_PRESETS.create('dynamic'), schedule, 5);
      expect([off.training(1), off.evaluation(1), off.training(2), off.atStep(2)]).toEqual([1, 1, 1, 1]);
      expect(off.record(2)).toBe(1);
    }
  });

  it('is the default schedule; adapterhub is chosen in the fusion options, anything else refused', () => {
    expect(validateConfig(FusionOptions, { temperature: true }).temperatureSchedule).toBe('linear');
    expect(validateConfig(FusionOptions, { temperature: true, temperatureSchedule: 'adapterhub' }).temperatureSchedule).toBe('adapterhub');
    expect(() => validateConfig(FusionOptions, { temperatureSchedule: 'cosine' }, 'fuse.yaml')).toThrow(
      'temperatureSchedule: must be one of the following values: linear, adapterhub, got "cosine"',
    );
  });
});
