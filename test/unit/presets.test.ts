// One preset mechanism for every configuration with named presets: adapters and fusion here, any class in general.
import 'reflect-metadata';
import { IsBoolean, IsInt } from 'class-validator';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FusionConfig } from '../../fusion/fusion-config';
import { FUSION_PRESETS, FusionOptions } from '../../fusion/fusion-options';
import { ADAPTER_PRESETS, AdapterConfig } from '../../src/adapters/adapter-config';
import { ConfigProperty, IsPreset, Presets } from '../../src/config/presets';
import { validateConfig } from '../../src/config/validate';
import { ExtractionConfig } from '../../src/pipeline/extraction-config';

class Shape {
  @IsPreset()
  preset?: string;

  @IsInt()
  width = 4;

  @IsBoolean()
  wide = false;
}

const SHAPE_PRESETS = Presets.define(Shape, { narrow: {}, broad: { width: 16, wide: true } }, { large: 'broad' });

class Holder {
  @ConfigProperty(() => Shape)
  shape = new Shape();
}

describe('Presets', () => {
  it('fills the options a configuration leaves out, explicit options winning, and keeps only the resolved options', () => {
    expect({ ...validateConfig(Shape, { preset: 'broad', width: 8 }) }).toEqual({ preset: undefined, width: 8, wide: true });
    expect(validateConfig(Shape, { preset: 'large' })).toEqual(validateConfig(Shape, { preset: 'broad' }));
    expect(validateConfig(Shape, { preset: 'narrow' })).toEqual(new Shape());
    expect(SHAPE_PRESETS.names).toEqual(['narrow', 'broad', 'large']);
    expect(SHAPE_PRESETS.create('large')).toEqual(Object.assign(new Shape(), { width: 16, wide: true }));
  });

  it('expands presets of nested configurations too', () => {
    expect(validateConfig(Holder, { shape: { preset: 'broad', wide: false } }).shape).toMatchObject({ width: 16, wide: false });
    expect(validateConfig(Holder, {}).shape).toEqual(new Shape());
  });

  it('names the known presets when a configuration names another, with its path', () => {
    expect(() => validateConfig(Holder, { shape: { preset: 'huge' } }, 'c.yaml')).toThrow('invalid configuration in c.yaml:\n  shape.preset: must be one of the following values: narrow, broad, large, got "huge"');
    expect(() => SHAPE_PRESETS.create('huge')).toThrow('unknown preset "huge"; expected one of: narrow, broad, large');
  });

  it('serves adapters and fusion alike', () => {
    const extraction = validateConfig(ExtractionConfig, { backbone: 'b', tasks: [{ id: 'rte', dataDir: 'd' }], adapter: { preset: 'houlsby', reductionFactor: 8 } });
    expect(extraction.adapter).toEqual(validateConfig(AdapterConfig, { preset: 'double_seq_bn', reductionFactor: 8 }));
    expect(extraction.adapter).toMatchObject({ mhAdapter: true, nonLinearity: 'swish', reductionFactor: 8 });
    expect(ADAPTER_PRESETS.create('pfeiffer')).toEqual(new AdapterConfig());

    const fusion = validateConfig(FusionConfig, { target: 'rte', dataDir: 'd', adapters: ['a', 'b'], fusion: { preset: 'static', temperature: true } }).fusion;
    expect(fusion).toEqual(Object.assign(FUSION_PRESETS.create('static'), { temperature: true }));
    expect(fusion).toMatchObject({ key: true, query: true, value: false, valueInitialized: false, regularization: false, temperature: true });
    expect(validateConfig(FusionOptions, {})).toEqual(FUSION_PRESETS.create('dynamic'));
    expect(() => validateConfig(FusionConfig, { target: 'rte', dataDir: 'd', adapters: ['a', 'b'], fusion: { preset: 'dynamik' } })).toThrow(
      'fusion.preset: must be one of the following values: dynamic, static, got "dynamik"',
    );
  });

  it('gives the error docs/adapters.md shows for an unknown adapter preset', () => {
    const doc = readFileSync(join(__dirname, '..', '..', 'docs', 'adapters.md'), 'utf8').replace(/\s+/g, ' ');
    const raw = { backbone: 'b', tasks: [{ id: 'rte', dataDir: 'd' }], adapter: { preset: 'lora' } };
    expect(() => validateConfig(ExtractionConfig, raw)).toThrow('adapter.preset: must be one of the following values: seq_bn, double_seq_bn, par_bn, pfeiffer, houlsby, got "lora"');
    expect(doc).toContain('`adapter.preset: must be one of the following values: seq_bn, double_seq_bn, par_bn, pfeiffer, houlsby, got "lora"`');
  });
});
