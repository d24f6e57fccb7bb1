// The built-in demo end to end, as `npm start` runs it (fixed seeds): the effect it is designed to show must be real.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BUILTIN_MODULES } from '../../bin/adapterfusion';
import { runDemo } from '../../fusion/index';
import { createContainer } from '../../src/index';

interface SiteReport {
  layer: number;
  mean: number[];
}

describe('the built-in demo', () => {
  it('fuses adapters so the low-resource target beats its own adapter, relying on the sentiment adapter', async () => {
    const runDir = mkdtempSync(join(tmpdir(), 'af-demo-'));
    const lines: string[] = [];
    const result = await runDemo(createContainer(BUILTIN_MODULES), { runDir, log: (line) => lines.push(line) });

    const sources = Object.fromEntries(result.extraction.map((task) => [task.task, task.metrics.accuracy ?? NaN]));
    expect(sources['demo-sentiment']).toBeGreaterThan(0.95);
    expect(sources['demo-topic']).toBeGreaterThan(0.95);
    const own = sources['demo-review'] ?? NaN;
    const fused = result.fusions[0]?.metrics.accuracy ?? NaN;
    expect(own).toBeLessThan(0.7); // the target's 64 examples show only 4 of the 16 sentiment words
    expect(fused).toBeGreaterThan(0.95);

    const report = JSON.parse(readFileSync(join(runDir, 'reports', 'demo-review', 'attention.json'), 'utf8'));
    expect(report.adapters).toEqual(['demo-sentiment', 'demo-topic', 'demo-filler', 'demo-review']);
    // Every layer puts most of its weight on the sentiment adapter ...
    for (const site of report.all.sites as SiteReport[]) {
      expect(site.mean[0]).toBeGreaterThan(0.5); // 1/N = 0.25
    }
    // ... and masking it costs far more than masking any other adapter.
    const drops = (report.ablation.withoutAdapter as number[]).map((metric) => report.ablation.full - metric);
    expect(drops[0]).toBeGreaterThan(0.3);
    expect(Math.max(...drops.slice(1))).toBeLessThan(0.05);

    expect(result.report?.files).toEqual(expect.arrayContaining([join(runDir, 'reports', 'demo-review', 'attention.html')]));
    // The explorer gets every view: 8 examples token by token, and attention logged at every evaluation.
    expect(report.tokens).toHaveLength(8);
    const html = readFileSync(join(runDir, 'reports', 'demo-review', 'attention.html'), 'utf8');
    for (const view of ['layers', 'classes', 'ablation', 'tokens', 'training']) expect(html).toContain(`data-view="${view}"`);
    expect(html).toContain('Attention over training');
    expect(lines.some((line) => line.startsWith('demo: built a 2-layer backbone'))).toBe(true);

    // Run again: everything is done, nothing is retrained.
    const again = await runDemo(createContainer(BUILTIN_MODULES), { runDir, log: () => undefined });
    expect(again.extraction.every((task) => task.skipped)).toBe(true);
    expect(again.fusions[0]?.skipped).toBe(true);
    expect(again.fusions[0]?.metrics.accuracy).toBe(fused);
  }, 600_000);
});
