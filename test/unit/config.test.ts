import 'reflect-metadata';
import { Type } from 'class-transformer';
import { IsIn, IsInt, Max, Min, ValidateNested } from 'class-validator';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigValidationError, loadConfigFile, validateConfig } from '../../src/config/validate';

class Inner {
  @IsInt() @Min(1) @Max(64)
  reductionFactor = 16;

  @IsIn(['relu', 'swish'])
  nonLinearity = 'relu';
}

class Outer {
  @ValidateNested() @Type(() => Inner)
  adapter: Inner = new Inner();

  @IsInt() @Min(1)
  epochs = 3;
}

describe('validateConfig', () => {
  it('applies defaults declared as initialisers', () => {
    const config = validateConfig(Outer, { adapter: { nonLinearity: 'swish' } });
    expect(config).toBeInstanceOf(Outer);
    expect(config.adapter.reductionFactor).toBe(16);
    expect(config.adapter.nonLinearity).toBe('swish');
    expect(config.epochs).toBe(3);
  });

  it('lists every problem with its dotted path, the rule and the value', () => {
    let error: unknown;
    try {
      validateConfig(Outer, { adapter: { reductionFactr: 8, reductionFactor: 0 }, epochs: 2 });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigValidationError);
    const message = (error as Error).message;
    expect(message).toContain('adapter.reductionFactr: unknown key (expected one of: nonLinearity, reductionFactor)');
    expect(message).toContain('adapter.reductionFactor: must not be less than 1, got 0');
    expect((error as ConfigValidationError).problems).toHaveLength(2);
  });

  it('reads YAML and JSON files and names the file in errors', () => {
    const dir = mkdtempSync(join(tmpdir(), 'af-config-'));
    writeFileSync(join(dir, 'a.yaml'), 'adapter:\n  reductionFactor: 8\nepochs: 5\n');
    expect(loadConfigFile(Outer, join(dir, 'a.yaml')).adapter.reductionFactor).toBe(8);
    writeFileSync(join(dir, 'b.json'), '{"epochs": 0}');
    expect(() => loadConfigFile(Outer, join(dir, 'b.json'))).toThrow(`invalid configuration in ${join(dir, 'b.json')}:\n  epochs: must not be less than 1, got 0`);
    writeFileSync(join(dir, 'c.json'), '{"epochs": ');
    expect(() => loadConfigFile(Outer, join(dir, 'c.json'))).toThrow(`${join(dir, 'c.json')}: cannot parse as JSON`);
  });
});
