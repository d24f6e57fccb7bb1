import type { JsonFields } from './json-fields';

/** Puts the special tokens around one text or a pair, with token types. */
export interface PostProcessor {
  /** How many special tokens a single text (`false`) or a pair (`true`) gets, for truncation. */
  addedCount(pair: boolean): number;
  /** The ids and token types of `a`, or of `a` and `b`, with the special tokens. */
  apply(a: readonly number[], b: readonly number[] | null): { inputIds: number[]; tokenTypeIds: number[] };
}

/** A template item: special-token ids or one of the texts, with the token type it gets. */
type Item = { ids: readonly number[]; typeId: number } | { sequence: 'A' | 'B'; typeId: number };

/** The post-processor types `readPostProcessor` reads. */
export const POST_PROCESSOR_TYPES = ['TemplateProcessing', 'BertProcessing', 'RobertaProcessing', 'ByteLevel', 'Sequence'];

const A0: Item = { sequence: 'A', typeId: 0 };

class TemplatePostProcessor implements PostProcessor {
  constructor(
    private readonly single: readonly Item[],
    private readonly pair: readonly Item[],
  ) {}

  addedCount(pair: boolean): number {
    return (pair ? this.pair : this.single).reduce((count, item) => count + ('ids' in item ? item.ids.length : 0), 0);
  }

  apply(a: readonly number[], b: readonly number[] | null): { inputIds: number[]; tokenTypeIds: number[] } {
    const inputIds: number[] = [];
    const tokenTypeIds: number[] = [];
    for (const item of b === null ? this.single : this.pair) {
      const ids = 'ids' in item ? item.ids : item.sequence === 'A' ? a : (b ?? []);
      for (const id of ids) {
        inputIds.push(id);
        tokenTypeIds.push(item.typeId);
      }
    }
    return { inputIds, tokenTypeIds };
  }
}

/** No special tokens; the second text of a pair gets token type 1. */
export const NO_SPECIAL_TOKENS: PostProcessor = new TemplatePostProcessor([A0], [A0, { sequence: 'B', typeId: 1 }]);

/**
 * `<s> a </s>` and `<s> a </s></s> b </s>` (RoBERTa), every token of type 0 as RoBERTa's single token type needs.
 *
 * @example
 * robertaProcessing(0, 2).apply([10], [11]).inputIds; // [0, 10, 2, 2, 11, 2]
 */
export function robertaProcessing(clsId: number, sepId: number): PostProcessor {
  const [cls, sep] = [{ ids: [clsId], typeId: 0 }, { ids: [sepId], typeId: 0 }];
  return new TemplatePostProcessor([cls, A0, sep], [cls, A0, sep, sep, { sequence: 'B', typeId: 0 }, sep]);
}

/**
 * The `post_processor` of a `tokenizer.json`: `TemplateProcessing` (its `single` and `pair` templates),
 * `BertProcessing` (`[CLS] a [SEP] b [SEP]`, b of type 1), `RobertaProcessing` (`<s> a </s></s> b </s>`),
 * `ByteLevel` (adds nothing), a `Sequence` of those in which one adds tokens, or `null` (adds nothing).
 */
export function readPostProcessor(value: unknown, field: string, fields: JsonFields): PostProcessor {
  if (value === null || value === undefined) return NO_SPECIAL_TOKENS;
  const json = fields.object(value, field);
  const tokenAndId = (member: string): number => {
    const pair = json[member];
    if (!Array.isArray(pair) || typeof pair[0] !== 'string' || typeof pair[1] !== 'number')
      return fields.fail(`${field}.${member}`, '[token, id]', pair);
    return pair[1];
  };
  switch (json.type) {
    case 'BertProcessing': {
      const [cls, sep] = [{ ids: [tokenAndId('cls')], typeId: 0 }, { ids: [tokenAndId('sep')], typeId: 0 }];
      return new TemplatePostProcessor([cls, A0, sep], [cls, A0, sep, { sequence: 'B', typeId: 1 }, { ...sep, typeId: 1 }]);
    }
    case 'RobertaProcessing':
      return robertaProcessing(tokenAndId('cls'), tokenAndId('sep'));
    case 'ByteLevel':
      return NO_SPECIAL_TOKENS;
    case 'TemplateProcessing': {
      const specials = fields.object(json.special_tokens ?? {}, `${field}.special_tokens`);
      const template = (name: 'single' | 'pair'): Item[] =>
        fields.array(json[name], `${field}.${name}`).map((entry, index) => {
          const at = `${field}.${name}[${index}]`;
          const piece = fields.object(entry, at);
          if (piece.Sequence !== undefined) {
            const sequence = fields.object(piece.Sequence, `${at}.Sequence`);
            if (sequence.id !== 'A' && sequence.id !== 'B') fields.fail(`${at}.Sequence.id`, '"A" or "B"', sequence.id);
            return { sequence: sequence.id, typeId: fields.number(sequence.type_id, `${at}.Sequence.type_id`) };
          }
          const special = fields.object(piece.SpecialToken, `${at}.SpecialToken`);
          const token = fields.string(special.id, `${at}.SpecialToken.id`);
          const ids = fields.object(specials[token], `${field}.special_tokens["${token}"]`).ids;
          if (!Array.isArray(ids) || !ids.every((id) => Number.isInteger(id)))
            fields.fail(`${field}.special_tokens["${token}"].ids`, 'an array of token ids', ids);
          return { ids: ids as number[], typeId: fields.number(special.type_id, `${at}.SpecialToken.type_id`) };
        });
      return new TemplatePostProcessor(template('single'), template('pair'));
    }
    case 'Sequence': {
      const steps = fields.array(json.processors, `${field}.processors`);
      const adding = steps.filter((step) => (step as { type?: unknown } | null)?.type !== 'ByteLevel');
      if (adding.length > 1)
        fields.fail(`${field}.processors`, 'at most one processor besides ByteLevel', adding.map((step) => (step as { type?: unknown }).type));
      return adding.length === 0 ? NO_SPECIAL_TOKENS : readPostProcessor(adding[0], `${field}.processors[${steps.indexOf(adding[0])}]`, fields);
    }
    default:
      return fields.fail(`${field}.type`, `one of ${POST_PROCESSOR_TYPES.join(', ')}`, json.type);
  }
}
