import { siteLabel, type AttentionGroup, type AttentionReport } from './attention-report';

const CELL = { width: 64, height: 26 };
const FONT = 'font-family="system-ui, sans-serif" font-size="12"';

function escape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** White (weight 0) to deep blue (weight 1). */
function colour(weight: number): string {
  const w = Math.min(1, Math.max(0, weight));
  const mix = (from: number, to: number) => Math.round(from + (to - from) * w);
  return `rgb(${mix(255, 8)},${mix(255, 48)},${mix(255, 107)})`;
}

/**
 * An inline SVG heatmap: one row per label, one column per adapter, each cell shaded by its weight and printing it; a
 * NaN weight (an adapter a fusion does not have) is a grey cell with a dash. Column names are drawn slanted so long
 * adapter names fit.
 */
export function heatmapSvg(title: string, rowLabels: readonly string[], columns: readonly string[], values: readonly (readonly number[])[]): string {
  const longest = Math.max(0, ...columns.map((name) => name.length));
  const left = Math.max(60, ...rowLabels.map((label) => label.length * 7 + 12));
  const top = Math.max(40, Math.min(longest, 28) * 4 + 24);
  // Slanted at 30°, a name reaches about 0.87 · 7 px per character to the right of its column's centre.
  const width = left + columns.length * CELL.width + Math.max(10, longest * 6 - CELL.width / 2);
  const height = top + rowLabels.length * CELL.height + 10;
  const parts: string[] = [];
  columns.forEach((name, c) => {
    const x = left + c * CELL.width + CELL.width / 2;
    parts.push(`<text x="${x}" y="${top - 8}" ${FONT} transform="rotate(-30 ${x} ${top - 8})">${escape(name)}</text>`);
  });
  rowLabels.forEach((label, r) => {
    const y = top + r * CELL.height;
    parts.push(`<text x="${left - 8}" y="${y + CELL.height / 2 + 4}" text-anchor="end" ${FONT}>${escape(label)}</text>`);
    (values[r] ?? []).forEach((weight, c) => {
      const x = left + c * CELL.width;
      if (Number.isNaN(weight)) {
        parts.push(
          `<rect x="${x}" y="${y}" width="${CELL.width}" height="${CELL.height}" fill="#eee" stroke="#fff"><title>${escape(`${label}: no ${columns[c] ?? ''}`)}</title></rect>`,
          `<text x="${x + CELL.width / 2}" y="${y + CELL.height / 2 + 4}" text-anchor="middle" ${FONT} fill="#999">–</text>`,
        );
        return;
      }
      parts.push(
        `<rect x="${x}" y="${y}" width="${CELL.width}" height="${CELL.height}" fill="${colour(weight)}" stroke="#fff"><title>${escape(`${label} · ${columns[c] ?? ''}: ${weight.toFixed(4)}`)}</title></rect>`,
        `<text x="${x + CELL.width / 2}" y="${y + CELL.height / 2 + 4}" text-anchor="middle" ${FONT} fill="${weight > 0.55 ? '#fff' : '#111'}">${weight.toFixed(2)}</text>`,
      );
    });
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="${escape(title)}" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">${parts.join('')}</svg>`;
}

function groupHeatmap(title: string, adapters: readonly string[], group: AttentionGroup): string {
  return heatmapSvg(title, [...group.sites.map(siteLabel), 'mean'], adapters, [...group.sites.map((site) => site.mean), group.overall]);
}

function legend(): string {
  const stops = [0, 0.25, 0.5, 0.75, 1].map((w) => `<span class="swatch" style="background:${colour(w)}"></span>${w}`).join(' ');
  return `<p class="legend">weight: ${stops}</p>`;
}

function reportSection(report: AttentionReport): string {
  const { all } = report;
  const metrics = Object.entries(report.metrics ?? {}).map(([name, value]) => `${escape(name)} ${value.toFixed(4)}`).join(', ');
  const parts = [
    `<h2>${escape(report.target)} <small>fusion ${escape(report.fusion)}</small></h2>`,
    `<p>Mean attention of each layer's fusion over the adapters on the <b>${escape(report.split)}</b> split: ${all.examples} examples, ${all.tokens} non-padding tokens, temperature ${report.temperature}${metrics ? `; ${metrics}` : ''}. Rows are layers (L<i>i</i>: after the feed-forward block; “attn”: after the attention block); each row sums to 1.</p>`,
    groupHeatmap(`${report.target}: attention per layer and adapter`, report.adapters, all),
  ];
  if (report.perClass?.length) {
    parts.push('<h3>Per gold class</h3>', '<div class="row">');
    for (const group of report.perClass) parts.push(`<figure>${groupHeatmap(`${report.target}, class ${group.key}`, report.adapters, group)}<figcaption>class <b>${escape(group.key)}</b>: ${group.examples} examples</figcaption></figure>`);
    parts.push('</div>');
  }
  if (report.ablation) {
    const { metric, full, withoutAdapter } = report.ablation;
    const rows = withoutAdapter.map((value, n) => `<tr><td>${escape(report.adapters[n] ?? '')}</td><td>${value.toFixed(4)}</td><td>${(value - full >= 0 ? '+' : '') + (value - full).toFixed(4)}</td></tr>`);
    parts.push(`<h3>Ablation</h3><table><tr><th>masked adapter</th><th>${escape(metric)}</th><th>change</th></tr><tr><td>(none)</td><td>${full.toFixed(4)}</td><td></td></tr>${rows.join('')}</table>`);
  }
  if (report.perExample?.length) {
    parts.push(`<h3>Per example</h3><p>Mean over layers, per adapter (${report.perExample.length} examples; all layers in attention.json and attention.csv).</p><table><tr><th>example</th>${report.adapters.map((name) => `<th>${escape(name)}</th>`).join('')}</tr>`);
    for (const group of report.perExample) parts.push(`<tr><td>${escape(group.key)}</td>${group.overall.map((w) => `<td style="background:${colour(w)};color:${w > 0.55 ? '#fff' : '#111'}">${w.toFixed(2)}</td>`).join('')}</tr>`);
    parts.push('</table>');
  }
  return `<section>${parts.join('\n')}</section>`;
}

/**
 * A self-contained HTML page (inline SVG and CSS, no external assets) with a layer × adapter heatmap per fusion, the
 * per-class heatmaps and ablation when present, and, for several fusions, a target × adapter matrix of mean attention
 * (Figure 4 of Pfeiffer et al. 2021).
 *
 * @example
 * writeFileAtomic('attention.html', attentionHtml([report]));
 */
export function attentionHtml(reports: readonly AttentionReport[]): string {
  const sections: string[] = [];
  if (reports.length > 1) {
    const adapters = [...new Set(reports.flatMap((report) => report.adapters))];
    const values = reports.map((report) => adapters.map((name) => {
      const n = report.adapters.indexOf(name);
      return n < 0 ? NaN : (report.all.overall[n] ?? NaN);
    }));
    sections.push(
      '<section><h2>Targets × adapters</h2><p>Mean attention over all layers and non-padding tokens: rows are the fusion targets, columns the adapters (a dash where a fusion does not include an adapter).</p>',
      heatmapSvg('mean attention, target × adapter', reports.map((report) => report.target), adapters, values),
      '</section>',
    );
  }
  sections.push(...reports.map(reportSection));
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>AdapterFusion attention: ${escape(reports.map((report) => report.target).join(', '))}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 2em; color: #111; max-width: 70em; }
h2 small { font-weight: normal; color: #555; font-size: 0.6em; }
section { margin-bottom: 2.5em; }
.row { display: flex; flex-wrap: wrap; gap: 1.5em; }
figure { margin: 0; }
figcaption { font-size: 0.9em; color: #444; }
table { border-collapse: collapse; margin: 0.5em 0; }
th, td { border: 1px solid #ccc; padding: 0.2em 0.6em; text-align: right; }
th:first-child, td:first-child { text-align: left; }
.legend .swatch { display: inline-block; width: 1.2em; height: 0.9em; border: 1px solid #ccc; vertical-align: middle; margin: 0 0.2em 0 0.6em; }
</style>
</head>
<body>
<h1>AdapterFusion attention</h1>
${legend()}
${sections.join('\n')}
</body>
</html>
`;
}
