import { signed, siteLabel, type AttentionGroup, type AttentionReport, type TokenAttention } from './attention-report';
import type { ExplorerData, TrainingLog } from './explorer-data';

const CELL = { width: 64, height: 26 };
const FONT = 'font-family="system-ui, sans-serif" font-size="12"';

function escape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/**
 * White (weight 0) to deep blue (weight 1): one hue whose lightness falls with the weight, so it reads in greyscale and
 * for every kind of colour blindness. The explorer's script reuses this function's source.
 */
function colour(weight: number): string {
  const w = Math.min(1, Math.max(0, weight));
  const mix = (from: number, to: number) => Math.round(from + (to - from) * w);
  return `rgb(${mix(255, 8)},${mix(255, 48)},${mix(255, 107)})`;
}

/**
 * An inline SVG heatmap: one row per label, one column per adapter, each cell shaded by its weight and printing it; a
 * NaN weight (an adapter a fusion does not have) is a grey cell with a dash. Column names are drawn slanted so long
 * adapter names fit. Shaded cells are focusable and carry their exact weight (`data-value`) for the explorer's script.
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
        `<rect class="cell" tabindex="0" data-r="${r}" data-c="${c}" data-label="${escape(`${label} · ${columns[c] ?? ''}`)}" data-value="${weight}" x="${x}" y="${y}" width="${CELL.width}" height="${CELL.height}" fill="${colour(weight)}" stroke="#fff"><title>${escape(`${label} · ${columns[c] ?? ''}: ${weight.toFixed(4)}`)}</title></rect>`,
        `<text x="${x + CELL.width / 2}" y="${y + CELL.height / 2 + 4}" text-anchor="middle" pointer-events="none" ${FONT} fill="${weight > 0.55 ? '#fff' : '#111'}">${weight.toFixed(2)}</text>`,
      );
    });
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="${escape(title)}" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">${parts.join('')}</svg>`;
}

function groupHeatmap(title: string, adapters: readonly string[], group: AttentionGroup): string {
  return heatmapSvg(title, [...group.sites.map(siteLabel), 'mean'], adapters, [...group.sites.map((site) => site.mean), group.overall]);
}

/** Line styles that differ by dash as well as by colour (Okabe–Ito's colour-blind-safe palette). */
const SERIES = [
  { colour: '#0072B2', dash: '' },
  { colour: '#D55E00', dash: '6 3' },
  { colour: '#009E73', dash: '2 3' },
  { colour: '#CC79A7', dash: '8 3 2 3' },
  { colour: '#E69F00', dash: '1 2' },
  { colour: '#56B4E9', dash: '10 4' },
];
/** At most this many focusable points per series; the line itself draws every point. */
const MARKED_POINTS = 40;

/**
 * An inline SVG line chart of several series over training steps, with a legend; up to 40 points per series are
 * focusable markers carrying their exact value.
 */
export function lineChartSvg(title: string, series: readonly { name: string; points: readonly (readonly [number, number])[] }[]): string {
  const all = series.flatMap((line) => line.points);
  if (all.length === 0) return '';
  const [width, height, left, top, bottom] = [520, 200, 64, 12, 28];
  const xs = all.map(([x]) => x);
  const ys = all.map(([, y]) => y);
  const [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
  const px = (x: number) => left + ((x - x0) / (x1 - x0 || 1)) * (width - left - 12);
  const py = (y: number) => top + (1 - (y - y0) / (y1 - y0 || 1)) * (height - top - bottom);
  const format = (v: number) => (Math.abs(v) < 1e-3 && v !== 0 ? v.toExponential(1) : Number(v.toPrecision(3)).toString());
  const parts = [
    `<line x1="${left}" y1="${height - bottom}" x2="${width - 12}" y2="${height - bottom}" stroke="#555"/><line x1="${left}" y1="${top}" x2="${left}" y2="${height - bottom}" stroke="#555"/>`,
    `<text x="${left - 4}" y="${top + 8}" text-anchor="end" ${FONT}>${format(y1)}</text><text x="${left - 4}" y="${height - bottom}" text-anchor="end" ${FONT}>${format(y0)}</text>`,
    `<text x="${left}" y="${height - 8}" ${FONT}>step ${x0}</text><text x="${width - 12}" y="${height - 8}" text-anchor="end" ${FONT}>${x1}</text>`,
  ];
  series.forEach((line, n) => {
    const style = SERIES[n % SERIES.length] as (typeof SERIES)[number];
    parts.push(`<polyline fill="none" stroke="${style.colour}" stroke-width="2" stroke-dasharray="${style.dash}" points="${line.points.map(([x, y]) => `${px(x).toFixed(1)},${py(y).toFixed(1)}`).join(' ')}"/>`);
    const stride = Math.max(1, Math.ceil(line.points.length / MARKED_POINTS));
    line.points.forEach(([x, y], i) => {
      if (i % stride !== 0 && i !== line.points.length - 1) return;
      const label = escape(`${line.name} at step ${x}`);
      parts.push(`<circle class="cell" tabindex="0" data-r="${n}" data-label="${label}" data-value="${y}" cx="${px(x).toFixed(1)}" cy="${py(y).toFixed(1)}" r="3" fill="${style.colour}"><title>${label}: ${y}</title></circle>`);
    });
  });
  const legend = series.map((line, n) => {
    const style = SERIES[n % SERIES.length] as (typeof SERIES)[number];
    return `<span class="key"><svg width="28" height="10" aria-hidden="true"><line x1="0" y1="5" x2="28" y2="5" stroke="${style.colour}" stroke-width="2" stroke-dasharray="${style.dash}"/></svg>${escape(line.name)}</span>`;
  });
  return `<figure><svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="${escape(title)}" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">${parts.join('')}</svg><figcaption>${escape(title)} ${legend.join(' ')}</figcaption></figure>`;
}

/** Ablation as bars: per masked adapter, the change of the metric from the full fusion's, labelled with its sign. */
function ablationSvg(adapters: readonly string[], ablation: NonNullable<AttentionReport['ablation']>): string {
  const { metric, full, withoutAdapter } = ablation;
  const changes = withoutAdapter.map((value) => value - full);
  const scale = Math.max(1e-9, ...changes.map(Math.abs));
  const left = Math.max(80, ...adapters.map((name) => name.length * 7 + 24));
  const [half, row] = [150, 24];
  const zero = left + half;
  const parts = [`<line x1="${zero}" y1="0" x2="${zero}" y2="${changes.length * row}" stroke="#555"/>`];
  changes.forEach((change, n) => {
    const y = n * row;
    const length = (Math.abs(change) / scale) * (half - 10);
    const x = change < 0 ? zero - length : zero;
    const label = escape(`without ${adapters[n] ?? n}: ${metric} ${(withoutAdapter[n] ?? 0).toFixed(4)}, change`);
    parts.push(
      `<text x="${left - 8}" y="${y + 16}" text-anchor="end" ${FONT}>${escape(adapters[n] ?? String(n))}</text>`,
      `<rect class="cell" tabindex="0" data-r="${n}" data-label="${label}" data-value="${change}" x="${x}" y="${y + 4}" width="${Math.max(1, length)}" height="${row - 8}" fill="${change < 0 ? '#08306b' : '#9ecae1'}"><title>${label} ${signed(change)}</title></rect>`,
      `<text x="${change < 0 ? zero + 4 : zero - 4}" y="${y + 16}" text-anchor="${change < 0 ? 'start' : 'end'}" ${FONT}>${signed(change)}</text>`,
    );
  });
  const width = zero + half + 10;
  return `<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="${escape(`${metric} change with each adapter masked`)}" width="${width}" height="${changes.length * row + 4}" viewBox="0 0 ${width} ${changes.length * row + 4}">${parts.join('')}</svg>`;
}

/** Per token and adapter, the mean weight over the sites. */
function meanOverSites(example: TokenAttention): number[][] {
  return example.tokens.map((_, t) => {
    const rows = example.sites.map((site) => site.weights[t] ?? []);
    return (rows[0] ?? []).map((_, n) => rows.reduce((sum, weights) => sum + (weights[n] ?? 0), 0) / rows.length);
  });
}

/** One adapter's row of an example's tokens, each shaded by its weight (focusable, exact value in `data-value`). */
function tokenRow(adapter: string, n: number, tokens: readonly string[], weights: readonly (readonly number[])[]): string {
  const spans = tokens.map((token, t) => {
    const weight = weights[t]?.[n] ?? 0;
    return `<span class="cell tok" tabindex="0" data-r="${n}" data-c="${t}" data-label="${escape(`${adapter} · ${token}`)}" data-value="${weight}" style="background:${colour(weight)};color:${weight > 0.55 ? '#fff' : '#111'}" title="${escape(`${adapter} · ${token}: ${weight.toFixed(4)}`)}">${escape(token)}</span>`;
  });
  return `<p class="tokens"><b>${escape(adapter)}</b> ${spans.join(' ')}</p>`;
}

function tokenSection(report: AttentionReport, reportIndex: number): string {
  const examples = report.tokens ?? [];
  const parts = [`<h3>Tokens</h3><p>Each token shaded by its attention to each adapter, averaged over the sites (the explorer picks a single site). ${examples.length} examples.</p>`];
  examples.forEach((example, e) => {
    const weights = meanOverSites(example);
    parts.push(
      `<div class="token-view" data-report="${reportIndex}" data-example="${e}"><h4>${escape(example.id)}${example.label === undefined ? '' : ` <small>class ${escape(example.label)}</small>`}</h4>`,
      ...report.adapters.map((adapter, n) => tokenRow(adapter, n, example.tokens, weights)),
      '</div>',
    );
  });
  return parts.join('\n');
}

function trainingSection(report: AttentionReport, log: TrainingLog | undefined): string {
  if (!log || (log.metrics.length === 0 && log.attention.length === 0)) return '';
  const series = (key: string) => log.metrics.flatMap((point): [number, number][] => (typeof point[key] === 'number' ? [[point.step, point[key]]] : []));
  const evalKeys = [...new Set(log.metrics.flatMap((point) => Object.keys(point).filter((key) => key.startsWith('eval_'))))];
  const parts = ['<h3>Training</h3>', '<div class="row">'];
  parts.push(lineChartSvg('training loss', [{ name: 'loss', points: series('loss') }]));
  parts.push(lineChartSvg('learning rate', [{ name: 'learning rate', points: series('learningRate') }]));
  if (evalKeys.length) parts.push(lineChartSvg(`${report.split} metrics`, evalKeys.map((key) => ({ name: key.slice(5), points: series(key) }))));
  parts.push('</div>');
  if (log.attention.length) {
    parts.push(
      `<h4>Attention over training</h4><p>Mean attention over all sites on the ${escape(report.split)} split at each recorded evaluation (<code>logAttentionEvery</code>).</p>`,
      heatmapSvg(`${report.target}: attention per step and adapter`, log.attention.map((snapshot) => `step ${snapshot.step}`), report.adapters, log.attention.map((snapshot) => snapshot.overall)),
      lineChartSvg('attention per adapter over training', report.adapters.map((name, n) => ({ name, points: log.attention.map((snapshot): [number, number] => [snapshot.step, snapshot.overall[n] ?? 0]) }))),
    );
  }
  return parts.join('\n');
}

function legend(): string {
  const stops = [0, 0.25, 0.5, 0.75, 1].map((w) => `<span class="swatch" style="background:${colour(w)}"></span>${w}`).join(' ');
  return `<p class="legend">weight: ${stops}</p>`;
}

/** One view of the explorer, named so a reader (or a test) can find it: `<div class="view" data-view="…">`. */
function view(name: string, html: string): string {
  return `<div class="view" data-view="${name}">${html}</div>`;
}

function reportSection(report: AttentionReport, reportIndex: number, training: TrainingLog | undefined): string {
  const { all } = report;
  const metrics = Object.entries(report.metrics ?? {}).map(([name, value]) => `${escape(name)} ${value.toFixed(4)}`).join(', ');
  const parts = [
    `<h2>${escape(report.target)} <small>fusion ${escape(report.fusion)}</small></h2>`,
    `<p>Mean attention of each layer's fusion over the adapters on the <b>${escape(report.split)}</b> split: ${all.examples} examples, ${all.tokens} non-padding tokens, temperature ${report.temperature}${metrics ? `; ${metrics}` : ''}. Rows are layers (L<i>i</i>: after the feed-forward block; “attn”: after the attention block); each row sums to 1.</p>`,
    view('layers', groupHeatmap(`${report.target}: attention per layer and adapter`, report.adapters, all)),
  ];
  if (report.perClass?.length) {
    const figures = report.perClass.map((group) => `<figure>${groupHeatmap(`${report.target}, class ${group.key}`, report.adapters, group)}<figcaption>class <b>${escape(group.key)}</b>: ${group.examples} examples</figcaption></figure>`);
    parts.push(view('classes', `<h3>Per gold class</h3><div class="row">${figures.join('')}</div>`));
  }
  if (report.ablation) {
    const { metric, full, withoutAdapter } = report.ablation;
    const rows = withoutAdapter.map((value, n) => `<tr><td>${escape(report.adapters[n] ?? '')}</td><td>${value.toFixed(4)}</td><td>${signed(value - full)}</td></tr>`);
    parts.push(view('ablation', [
      `<h3>Ablation</h3><p>The ${escape(metric)} with each adapter masked, as its change from ${full.toFixed(4)} with all adapters.</p>`,
      ablationSvg(report.adapters, report.ablation),
      `<table><tr><th>masked adapter</th><th>${escape(metric)}</th><th>change</th></tr><tr><td>(none)</td><td>${full.toFixed(4)}</td><td></td></tr>${rows.join('')}</table>`,
    ].join('\n')));
  }
  if (report.perExample?.length) {
    const rows = report.perExample.map((group) => `<tr><td>${escape(group.key)}</td>${group.overall.map((w) => `<td style="background:${colour(w)};color:${w > 0.55 ? '#fff' : '#111'}">${w.toFixed(2)}</td>`).join('')}</tr>`);
    parts.push(view('examples', `<h3>Per example</h3><p>Mean over layers, per adapter (${report.perExample.length} examples; all layers in attention.json and attention.csv).</p><table><tr><th>example</th>${report.adapters.map((name) => `<th>${escape(name)}</th>`).join('')}</tr>${rows.join('')}</table>`));
  }
  if (report.tokens?.length) parts.push(view('tokens', tokenSection(report, reportIndex)));
  const trainingViews = trainingSection(report, training);
  if (trainingViews) parts.push(view('training', trainingViews));
  return `<section data-target="${escape(report.target)}">${parts.join('\n')}</section>`;
}

/**
 * The explorer's content (no page around it): with several targets, the target × adapter matrix (Figure 4 of Pfeiffer
 * et al. 2021) and their layer heatmaps side by side; then each target's heatmaps, per class, ablation bars, per-example
 * table, token view and training curves. Readable as it is; `EXPLORER_SCRIPT` adds hover, keyboard and site choice.
 */
export function explorerBody(data: ExplorerData): string {
  const { reports } = data;
  const sections: string[] = [legend()];
  if (reports.length > 1) {
    const adapters = [...new Set(reports.flatMap((report) => report.adapters))];
    const values = reports.map((report) => adapters.map((name) => {
      const n = report.adapters.indexOf(name);
      return n < 0 ? NaN : (report.all.overall[n] ?? NaN);
    }));
    sections.push(
      '<section class="view" data-view="targets"><h2>Targets × adapters</h2><p>Mean attention over all layers and non-padding tokens: rows are the fusion targets, columns the adapters (a dash where a fusion does not include an adapter).</p>',
      heatmapSvg('mean attention, target × adapter', reports.map((report) => report.target), adapters, values),
      '<h3>Side by side</h3><div class="row">',
      ...reports.map((report) => `<figure>${groupHeatmap(`${report.target}: attention per layer and adapter`, report.adapters, report.all)}<figcaption>${escape(report.target)}</figcaption></figure>`),
      '</div></section>',
    );
  }
  sections.push(...reports.map((report, n) => reportSection(report, n, data.training[report.target])));
  return sections.join('\n');
}

/** The explorer's styles: visible focus on every value, the tooltip, layout. */
export const EXPLORER_CSS = `
body { font-family: system-ui, sans-serif; margin: 2em; color: #111; max-width: 80em; }
h2 small, h4 small { font-weight: normal; color: #555; font-size: 0.7em; }
section { margin-bottom: 2.5em; }
.row { display: flex; flex-wrap: wrap; gap: 1.5em; }
figure { margin: 0; }
figcaption { font-size: 0.9em; color: #444; }
figcaption .key { margin-left: 0.8em; white-space: nowrap; }
table { border-collapse: collapse; margin: 0.5em 0; }
th, td { border: 1px solid #ccc; padding: 0.2em 0.6em; text-align: right; }
th:first-child, td:first-child { text-align: left; }
.legend .swatch { display: inline-block; width: 1.2em; height: 0.9em; border: 1px solid #ccc; vertical-align: middle; margin: 0 0.2em 0 0.6em; }
.tokens { line-height: 1.9; margin: 0.2em 0; }
.tokens b { display: inline-block; min-width: 7em; }
.tok { padding: 0.1em 0.25em; border-radius: 3px; border: 1px solid #ddd; }
.cell:focus { outline: 3px solid #d55e00; outline-offset: 1px; stroke: #d55e00; stroke-width: 3; }
.cell:hover { stroke: #111; stroke-width: 2; }
#explorer-tip { position: absolute; pointer-events: none; background: #111; color: #fff; padding: 0.25em 0.5em; border-radius: 4px; font-size: 13px; display: none; z-index: 10; }
`;

/**
 * The explorer's script, inline in the page: a tooltip with the exact value of the cell under the pointer or with
 * keyboard focus, arrow keys moving between the cells of a heatmap, chart or token row, and a site choice per token
 * view. It defines `enhanceExplorer(root, data)` and runs it on the page's embedded data (`#explorer-data`) if any.
 */
export const EXPLORER_SCRIPT = `
var colour = ${colour.toString()}; // as an expression: a bundler may have renamed the function
function enhanceExplorer(root, data) {
  var tip = document.getElementById('explorer-tip');
  if (!tip) {
    tip = document.createElement('div');
    tip.id = 'explorer-tip';
    tip.setAttribute('role', 'status');
    document.body.appendChild(tip);
  }
  function show(cell) {
    tip.textContent = cell.getAttribute('data-label') + ': ' + cell.getAttribute('data-value');
    var box = cell.getBoundingClientRect();
    tip.style.left = (window.scrollX + box.left) + 'px';
    tip.style.top = (window.scrollY + box.bottom + 4) + 'px';
    tip.style.display = 'block';
  }
  function hide() { tip.style.display = 'none'; }
  root.addEventListener('mouseover', function (event) { var cell = event.target.closest && event.target.closest('.cell'); if (cell) show(cell); });
  root.addEventListener('mouseout', function (event) { if (event.target.closest && event.target.closest('.cell')) hide(); });
  root.addEventListener('focusin', function (event) { if (event.target.classList && event.target.classList.contains('cell')) show(event.target); });
  root.addEventListener('focusout', hide);
  var moves = { ArrowLeft: [0, -1], ArrowRight: [0, 1], ArrowUp: [-1, 0], ArrowDown: [1, 0] };
  root.addEventListener('keydown', function (event) {
    var move = moves[event.key];
    var cell = event.target;
    if (!move || !cell.classList || !cell.classList.contains('cell')) return;
    var group = cell.closest('svg, .token-view');
    var cells = Array.prototype.slice.call(group.querySelectorAll('.cell'));
    var r = Number(cell.getAttribute('data-r')) + move[0], c = Number(cell.getAttribute('data-c')) + move[1];
    var next = cell.hasAttribute('data-c')
      ? cells.filter(function (other) { return Number(other.getAttribute('data-r')) === r && Number(other.getAttribute('data-c')) === c; })[0]
      : cells[cells.indexOf(cell) + move[0] + move[1]];
    if (next) { next.focus(); event.preventDefault(); }
  });
  Array.prototype.forEach.call(root.querySelectorAll('.token-view'), function (view) {
    var report = data.reports[Number(view.getAttribute('data-report'))];
    var example = report.tokens[Number(view.getAttribute('data-example'))];
    var select = document.createElement('select');
    select.setAttribute('aria-label', 'site of ' + example.id);
    select.appendChild(new Option('mean over sites', ''));
    example.sites.forEach(function (site, s) { select.appendChild(new Option('L' + site.layer + (site.location === 'mh_adapter' ? ' attn' : ''), String(s))); });
    select.addEventListener('change', function () {
      Array.prototype.forEach.call(view.querySelectorAll('.tok'), function (span) {
        var n = Number(span.getAttribute('data-r')), t = Number(span.getAttribute('data-c'));
        var weight = 0;
        if (select.value === '') example.sites.forEach(function (site) { weight += site.weights[t][n] / example.sites.length; });
        else weight = example.sites[Number(select.value)].weights[t][n];
        span.setAttribute('data-value', String(weight));
        span.style.background = colour(weight);
        span.style.color = weight > 0.55 ? '#fff' : '#111';
      });
    });
    view.insertBefore(select, view.children[1]);
  });
}
(function () {
  var embedded = document.getElementById('explorer-data');
  if (embedded) enhanceExplorer(document, JSON.parse(embedded.textContent));
})();
`;

/** JSON safe inside a <script> element: no "<" can close it. */
function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c');
}

/**
 * The explorer as one self-contained HTML page (inline SVG, CSS, script and data; no network): everything
 * `explorerBody` shows, readable with JavaScript off, with hover, keyboard access and the token view's site choice
 * when it is on. The data (reports and training logs) is embedded as JSON in `#explorer-data`.
 *
 * @example
 * writeFileAtomic('attention.html', attentionHtml({ reports: [report], training: { [report.target]: readTrainingLog(run, report.target) } }));
 */
export function attentionHtml(data: ExplorerData): string {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>AdapterFusion attention: ${escape(data.reports.map((report) => report.target).join(', '))}</title>
<style>${EXPLORER_CSS}</style>
</head>
<body>
<h1>AdapterFusion attention</h1>
${explorerBody(data)}
<script type="application/json" id="explorer-data">${scriptJson(data)}</script>
<script>${EXPLORER_SCRIPT}</script>
</body>
</html>
`;
}
