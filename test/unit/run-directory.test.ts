import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { RunDirectory } from '../../src/io/run-directory';

describe('RunDirectory', () => {
  it('records finished stages in an atomically written manifest', () => {
    const root = mkdtempSync(join(tmpdir(), 'af-run-'));
    const run = new RunDirectory(root);
    expect(run.isDone('extract/rte')).toBe(false);
    run.updateManifest({ backboneHash: 'abc' });
    run.recordStage('extract/rte', { config: { epochs: 1 }, seed: 7, metrics: { accuracy: 0.5 } });
    const reread = new RunDirectory(root);
    expect(reread.isDone('extract/rte')).toBe(true);
    const manifest = JSON.parse(readFileSync(join(root, 'manifest.json'), 'utf8'));
    expect(manifest.backboneHash).toBe('abc');
    expect(manifest.stages['extract/rte'].metrics).toEqual({ accuracy: 0.5 });
    expect(readdirSync(root)).toEqual(['manifest.json']);
    expect(run.adapterDir('rte')).toBe(join(root, 'adapters', 'rte'));
  });
});
