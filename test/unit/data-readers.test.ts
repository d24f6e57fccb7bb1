import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DataFileError, readExamples, readRows, type BadLineOptions, type ColumnMapping, type Example, type HeadSpec } from '../../src/index';

const dir = mkdtempSync(join(tmpdir(), 'data-readers-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let fileCount = 0;
/** Writes `content` to a fresh file with the given extension and returns its path. */
function file(extension: string, content: string): string {
  const path = join(dir, `f${fileCount++}.${extension}`);
  writeFileSync(path, content);
  return path;
}

const sentiment: HeadSpec = { type: 'classification', labels: ['neg', 'pos'] };
const STOP_HINT = ' (reading stops at the first bad line; set skipBadLines to skip bad lines and count them)';

async function collect(path: string, mapping: ColumnMapping, head: HeadSpec = sentiment, options: BadLineOptions = {}): Promise<Example[]> {
  const examples: Example[] = [];
  for await (const example of readExamples(path, head, mapping, options)) examples.push(example);
  return examples;
}

describe('TSV', () => {
  it('maps columns by header name, keeps quotes as text (GLUE: no quoting) and ignores blank lines', async () => {
    const path = file('tsv', 'index\ttext\tlabel\n7\tHe said "hi\tpos\n\n8\t"quoted"\tneg\n');
    expect(await collect(path, { id: 'index', text: 'text', label: 'label' })).toEqual([
      { id: '7', text: 'He said "hi', label: 1 },
      { id: '8', text: '"quoted"', label: 0 },
    ]);
  });

  it('drops a byte-order mark and Windows line endings', async () => {
    const path = file('tsv', '\uFEFFtext\tlabel\r\nfine\tpos\r\n');
    expect(await collect(path, { text: 'text', label: 'label' })).toEqual([{ id: '0', text: 'fine', label: 1 }]);
  });

  it('maps columns by index in a headerless file, numbering rows from 0', async () => {
    const path = file('tsv', 'a\tpos\tx\tfirst\nb\tneg\t\tsecond\n');
    expect(await collect(path, { header: false, text: 3, label: 1 })).toEqual([
      { id: '0', text: 'first', label: 1 },
      { id: '1', text: 'second', label: 0 },
    ]);
  });

  it('stops at a line with the wrong field count, naming file, line and the expected columns', async () => {
    const path = file('tsv', 'index\ttext\tlabel\n0\tgood\tpos\n1\tno label\n2\tgood\tneg\n');
    await expect(collect(path, { text: 'text', label: 'label' })).rejects.toThrow(
      `${path} line 3: expected 3 tab-separated fields (index, text, label), got 2${STOP_HINT}`,
    );
  });

  it('names the field of a label outside the label set', async () => {
    const path = file('tsv', 'text\tlabel\nok\tpos\nhmm\tmaybe\n');
    await expect(collect(path, { text: 'text', label: 'label' })).rejects.toThrow(`${path} line 3, field "label": expected one of "neg", "pos", got "maybe"`);
  });

  it('refuses an empty text', async () => {
    const path = file('tsv', 'text\tlabel\n   \tpos\n');
    await expect(collect(path, { text: 'text', label: 'label' })).rejects.toThrow(`${path} line 2, field "text": expected a non-empty text, got "   "`);
  });

  it('names a column missing from the header, even when skipping bad lines', async () => {
    const path = file('tsv', 'index\ttext\n0\thello\n');
    const error = collect(path, { text: 'text', label: 'label' }, sentiment, { skipBadLines: true });
    await expect(error).rejects.toThrow(`${path} line 1: expected a column "label" in the header, got "index", "text"`);
    await expect(error).rejects.toBeInstanceOf(DataFileError);
  });

  it('refuses a column index beyond the fields of a headerless file', async () => {
    const path = file('tsv', 'a\tb\n');
    await expect(collect(path, { header: false, text: 5 })).rejects.toThrow(`${path} line 1: expected a column index below 2, got 5`);
  });

  it('with skipBadLines, skips every kind of bad line and reports how many', async () => {
    const path = file('tsv', 'text\tlabel\none\tpos\ntoo\tmany\tfields\nthree\tmaybe\n\tneg\nfive\tneg\n');
    const warnings: string[] = [];
    const examples = await collect(path, { text: 'text', label: 'label' }, sentiment, { skipBadLines: true, warn: (m) => warnings.push(m) });
    // Rows keep their position as id, so skipping does not renumber the good ones.
    expect(examples).toEqual([
      { id: '0', text: 'one', label: 1 },
      { id: '4', text: 'five', label: 0 },
    ]);
    expect(warnings).toEqual([`${path}: skipped 3 bad lines; the first: ${path} line 3: expected 2 tab-separated fields (text, label), got 3`]);
  });

  it('parses regression values and refuses non-numbers and values out of range', async () => {
    const head: HeadSpec = { type: 'regression', range: [0, 5] };
    expect(await collect(file('tsv', 's\tscore\na\t3.800\n'), { text: 's', label: 'score' }, head)).toEqual([{ id: '0', text: 'a', label: 3.8 }]);
    const notNumber = file('tsv', 's\tscore\na\t\n');
    await expect(collect(notNumber, { text: 's', label: 'score' }, head)).rejects.toThrow(`${notNumber} line 2, field "score": expected a number, got ""`);
    const outOfRange = file('tsv', 's\tscore\na\t5.5\n');
    await expect(collect(outOfRange, { text: 's', label: 'score' }, head)).rejects.toThrow(`${outOfRange} line 2, field "score": expected a number in [0, 5], got 5.5`);
  });

  it('renames raw labels with labelMap', async () => {
    const head: HeadSpec = { type: 'classification', labels: ['entailment', 'not_entailment'] };
    const path = file('tsv', 'p\th\tentails\np\th\tneutral\n');
    const mapping = { header: false, text: 0, textPair: 1, label: 2, labelMap: { entails: 'entailment', neutral: 'not_entailment' } };
    expect((await collect(path, mapping, head)).map((e) => e.label)).toEqual([0, 1]);
  });

  it('reads .txt as tab-separated and refuses an unknown extension unless a format is given', async () => {
    expect(await collect(file('txt', 'text\nhi\n'), { text: 'text' })).toEqual([{ id: '0', text: 'hi' }]);
    const odd = file('dat', 'text\nhi\n');
    await expect(collect(odd, { text: 'text' })).rejects.toThrow(`${odd}: expected a .tsv, .txt, .csv, .jsonl, .ndjson or .json file, got ".dat"`);
    expect(await collect(odd, { format: 'tsv', text: 'text' })).toEqual([{ id: '0', text: 'hi' }]);
  });
});

describe('CSV (RFC 4180)', () => {
  it('reads quoted fields with commas, doubled quotes and line breaks, numbering a record by its first line', async () => {
    const path = file('csv', 'text,label\n"one, two",pos\n"say ""hi""",neg\n"line\nbreak",pos\nplain,maybe\n');
    const rows = [];
    for await (const row of readRows(path)) rows.push([row.line, row.get('text')]);
    expect(rows).toEqual([
      [2, 'one, two'],
      [3, 'say "hi"'],
      [4, 'line\nbreak'],
      [6, 'plain'],
    ]);
    await expect(collect(path, { text: 'text', label: 'label' })).rejects.toThrow(`${path} line 6, field "label": expected one of "neg", "pos", got "maybe"`);
  });

  it('refuses text after a closing quote', async () => {
    const path = file('csv', 'text,label\n"a"b,pos\n');
    await expect(collect(path, { text: 'text', label: 'label' })).rejects.toThrow(`${path} line 2, field "column 0": expected a comma after the closing quote, got "b"`);
  });

  it('stops on a broken header even when skipping bad lines', async () => {
    const path = file('csv', '"text,label\nok,pos\n');
    await expect(collect(path, { text: 'text', label: 'label' }, sentiment, { skipBadLines: true })).rejects.toThrow(
      `${path} line 1: expected a closing quote, got the end of the file`,
    );
  });

  it('refuses a quoted field that is never closed', async () => {
    const path = file('csv', 'text,label\nok,pos\n"open,pos\nmore,neg\n');
    await expect(collect(path, { text: 'text', label: 'label' })).rejects.toThrow(`${path} line 3: expected a closing quote, got the end of the file`);
  });
  it('with skipBadLines, a quote never closed costs its own row only, reported at the line where it opened', async () => {
    const lines = Array.from({ length: 30 }, (_, i) => (i === 6 ? '"open,pos' : `row ${i},${i % 2 ? 'pos' : 'neg'}`));
    const path = file('csv', `text,label\n${lines.join('\n')}\n`);
    const warnings: string[] = [];
    const examples = await collect(path, { text: 'text', label: 'label' }, sentiment, { skipBadLines: true, warn: (m) => warnings.push(m) });
    expect(examples.map((example) => example.text)).toEqual(Array.from({ length: 30 }, (_, i) => `row ${i}`).filter((_, i) => i !== 6));
    expect(warnings).toEqual([`${path}: skipped 1 bad line; the first: ${path} line 8: expected a closing quote, got the end of the file (a quoted field opened on this line is never closed)`]);
  });

  it('with skipBadLines, text after a quote closed lines later costs the opening row only', async () => {
    const path = file('csv', 'text,label\n"a,pos\nb,neg\nc"x,pos\nd,neg\n');
    const warnings: string[] = [];
    const examples = await collect(path, { text: 'text', label: 'label' }, sentiment, { skipBadLines: true, warn: (m) => warnings.push(m) });
    expect(examples.map((example) => example.text)).toEqual(['b', 'c"x', 'd']);
    expect(warnings).toEqual([`${path}: skipped 1 bad line; the first: ${path} line 2, field "column 0": expected a comma after the closing quote, got "x"`]);
  });
});

describe('text encoding', () => {
  it('refuses bytes that are not UTF-8 with the file, line and byte offset, even when skipping bad lines', async () => {
    const latin1 = join(dir, 'latin1.tsv');
    writeFileSync(latin1, Buffer.concat([Buffer.from('text\tlabel\nfine\tpos\ncaf'), Buffer.from([0xe8]), Buffer.from('\tneg\n')]));
    await expect(collect(latin1, { text: 'text', label: 'label' }, sentiment, { skipBadLines: true })).rejects.toThrow(
      `${latin1} line 3: invalid UTF-8 at byte offset 23 (byte 0xE8); expected UTF-8 text: convert the file (e.g. iconv -f latin1 -t utf-8)`,
    );
    const stray = join(dir, 'stray.jsonl');
    writeFileSync(stray, Buffer.concat([Buffer.from('{"text": "ok", "label": "pos"}\n{"text": "'), Buffer.from([0xff]), Buffer.from('", "label": "neg"}\n')]));
    await expect(collect(stray, { text: 'text', label: 'label' })).rejects.toThrow(`${stray} line 2: invalid UTF-8 at byte offset 41 (byte 0xFF)`);
    const json = join(dir, 'stray.json');
    writeFileSync(json, Buffer.concat([Buffer.from('[{"text": "'), Buffer.from([0xc3, 0x28]), Buffer.from('", "label": "neg"}]')]));
    await expect(collect(json, { text: 'text', label: 'label' })).rejects.toThrow(`${json} line 1: invalid UTF-8 at byte offset 11 (byte 0xC3)`);
  });

  it('reads characters split across read chunks', async () => {
    const text = 'é€😀'.repeat(40000);
    const path = file('tsv', `text\tlabel\n${text}\tpos\n`);
    expect(await collect(path, { text: 'text', label: 'label' })).toEqual([{ id: '0', text, label: 1 }]);
  });
});

describe('JSONL', () => {
  it('reads one object per line with booleans as labels and alternative column names', async () => {
    const head: HeadSpec = { type: 'classification', labels: ['false', 'true'] };
    const path = file('jsonl', '{"question": "q1", "passage": "p1", "answer": true}\n\n{"question": "q2", "passage": "p2", "answer": false}');
    expect(await collect(path, { text: 'question', textPair: 'passage', label: ['label', 'answer'] }, head)).toEqual([
      { id: '0', text: 'q1', textPair: 'p1', label: 1 },
      { id: '1', text: 'q2', textPair: 'p2', label: 0 },
    ]);
  });

  it('names the line of invalid JSON and of a line that is not an object', async () => {
    const invalid = file('jsonl', '{"text": "a", "label": "pos"}\n{"text": "b", "label": \n');
    await expect(collect(invalid, { text: 'text', label: 'label' })).rejects.toThrow(new RegExp(`^${invalid} line 2: invalid JSON: `));
    const array = file('jsonl', '["a", "pos"]\n');
    await expect(collect(array, { text: 'text', label: 'label' })).rejects.toThrow(`${array} line 1: expected a JSON object, got an array`);
  });

  it('names a missing field and lists the fields the line has', async () => {
    const path = file('jsonl', '{"text": "a"}\n');
    await expect(collect(path, { text: 'text', label: 'label' })).rejects.toThrow(`${path} line 1, field "label": expected a value, got nothing (fields: text)`);
    const neither = file('jsonl', '{"text": "a"}\n');
    await expect(collect(neither, { text: 'text', label: ['label', 'answer'] })).rejects.toThrow(`${neither} line 1: expected a field "label" or "answer", got none (fields: text)`);
  });

  it('refuses a text that is not a string', async () => {
    const path = file('jsonl', '{"text": 5}\n');
    await expect(collect(path, { text: 'text' })).rejects.toThrow(`${path} line 1, field "text": expected a text, got 5`);
  });
});

describe('JSON files', () => {
  it('reads an object of rows, using member names as ids and their lines in errors', async () => {
    const path = file('json', '{\n  "a1": {"text": "x", "label": "pos"},\n  "b2": {\n    "text": "y",\n    "label": "neg"\n  }\n}\n');
    expect(await collect(path, { text: 'text', label: 'label' })).toEqual([
      { id: 'a1', text: 'x', label: 1 },
      { id: 'b2', text: 'y', label: 0 },
    ]);
    const bad = file('json', '{\n  "a1": {"text": "x", "label": "pos"},\n  "b2": {"text": "y", "label": "what"}\n}');
    await expect(collect(bad, { text: 'text', label: 'label' })).rejects.toThrow(`${bad} line 3, field "label": expected one of "neg", "pos", got "what"`);
  });

  it('reads an array of rows; an element that does not parse is a bad line that can be skipped', async () => {
    const path = file('json', '[\n {"text": "a", "label": "pos"},\n {"text": "b", "label": nope},\n {"text": "c", "label": "neg"}\n]');
    await expect(collect(path, { text: 'text', label: 'label' })).rejects.toThrow(new RegExp(`^${path} line 3: invalid JSON: `));
    const warnings: string[] = [];
    const examples = await collect(path, { text: 'text', label: 'label' }, sentiment, { skipBadLines: true, warn: (m) => warnings.push(m) });
    expect(examples.map((e) => e.id)).toEqual(['0', '2']);
    expect(warnings[0]).toMatch(new RegExp(`^${path}: skipped 1 bad line; the first: ${path} line 3: invalid JSON`));
  });

  it('reads an empty array and refuses a stray comma', async () => {
    expect(await collect(file('json', ' [ ] '), { text: 'text' })).toEqual([]);
    const comma = file('json', '[{"text": "a"},\n]');
    await expect(collect(comma, { text: 'text' })).rejects.toThrow(`${comma} line 2: expected a JSON value between commas, got nothing (a stray comma?)`);
  });

  it('stops on a broken outer structure even when skipping bad lines', async () => {
    const options = { skipBadLines: true, warn: () => undefined };
    const truncated = file('json', '[{"text": "a"},\n{"text": "b"}');
    await expect(collect(truncated, { text: 'text' }, sentiment, options)).rejects.toThrow(`${truncated} line 2: expected the closing "]", got the end of the file`);
    const scalar = file('json', '"text"');
    await expect(collect(scalar, { text: 'text' }, sentiment, options)).rejects.toThrow(`${scalar} line 1: expected a JSON array or an object of rows, got """`);
    const trailing = file('json', '[]\n]');
    await expect(collect(trailing, { text: 'text' }, sentiment, options)).rejects.toThrow(`${trailing} line 2: expected nothing after the closing "]", got "]"`);
  });

  it('streams a file larger than one read chunk, with brackets, commas and escaped quotes inside strings', async () => {
    const rows = Object.fromEntries(
      Array.from({ length: 3000 }, (_, i) => [`id${i}`, { text: `row ${i}: {"nested": [1, 2]}, \\"quoted\\" ]} ${'é'.repeat(i % 7)}`, label: i % 2 ? 'pos' : 'neg' }]),
    );
    const path = file('json', JSON.stringify(rows, null, 2));
    const examples = await collect(path, { text: 'text', label: 'label' });
    expect(examples).toHaveLength(3000);
    expect(examples[2999]).toEqual({ id: 'id2999', text: rows.id2999?.text, label: 1 });
    expect(examples.every((e) => e.text === rows[e.id]?.text)).toBe(true);
  });
});

describe('heads other than classification', () => {
  it('tagging: words and one tag each, as JSON arrays or whitespace-separated', async () => {
    const head: HeadSpec = { type: 'tagging', labels: ['O', 'B-PER', 'I-PER'] };
    const path = file('jsonl', '{"tokens": ["Ada", "Lovelace", "wrote"], "tags": ["B-PER", "I-PER", "O"]}\n');
    expect(await collect(path, { words: 'tokens', label: 'tags' }, head)).toEqual([
      { id: '0', text: 'Ada Lovelace wrote', words: ['Ada', 'Lovelace', 'wrote'], label: [1, 2, 0] },
    ]);
    const tsv = file('tsv', 'words\ttags\nAda wrote\tB-PER\n');
    await expect(collect(tsv, { words: 'words', label: 'tags' }, head)).rejects.toThrow(`${tsv} line 2, field "tags": expected one tag per word (2), got 1`);
  });

  it('multiple choice: one column per choice and a choice index', async () => {
    const head: HeadSpec = { type: 'multiple-choice', numChoices: 2 };
    const path = file('jsonl', '{"q": "Sky?", "a": "blue", "b": "green", "answer": 0}\n{"q": "Grass?", "a": "blue", "b": "green", "answer": 2}\n');
    await expect(collect(path, { text: 'q', choices: ['a', 'b'], label: 'answer' }, head)).rejects.toThrow(
      `${path} line 2, field "answer": expected a choice index from 0 to 1, got 2`,
    );
    const [first] = await collect(path, { text: 'q', choices: ['a', 'b'], label: 'answer' }, head, { skipBadLines: true, warn: () => undefined });
    expect(first).toEqual({ id: '0', text: 'Sky?', choices: ['blue', 'green'], label: 0 });
    expect(() => readExamples(path, head, { text: 'q', choices: ['a'] })).toThrow(`${path}: column mapping: expected 2 "choices" columns for the multiple-choice head, got 1`);
  });

  it('multi-label: a JSON list or comma-separated labels', async () => {
    const head: HeadSpec = { type: 'multi-label', labels: ['sports', 'politics', 'science'] };
    const path = file('tsv', 'text\ttopics\na\tsports, science\nb\tpolitics\n');
    expect((await collect(path, { text: 'text', label: 'topics' }, head)).map((e) => e.label)).toEqual([[0, 2], [1]]);
  });
});
