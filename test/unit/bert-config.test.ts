import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { bertConfigFromJson, bertConfigToJson, readBertConfig } from '../../src/backbone/bert-config';
import { hasShared, sharedPath } from '../shared-fixtures';

describe('BertConfig', () => {
  it.skipIf(!hasShared('conformance', 'adapterhub-seqbn-fusion', 'config.json'))('reads a config.json written by Hugging Face', () => {
    expect(readBertConfig(sharedPath('conformance', 'adapterhub-seqbn-fusion'))).toEqual({
      modelType: 'bert',
      vocabSize: 120,
      hiddenSize: 32,
      numHiddenLayers: 2,
      numAttentionHeads: 4,
      intermediateSize: 64,
      hiddenAct: 'gelu',
      hiddenDropoutProb: 0.1,
      attentionProbsDropoutProb: 0.1,
      maxPositionEmbeddings: 64,
      typeVocabSize: 2,
      layerNormEps: 1e-12,
      padTokenId: 0,
      initializerRange: 0.02,
    });
  });

  it("applies Hugging Face's defaults for absent keys, per model type", () => {
    const roberta = bertConfigFromJson({ model_type: 'roberta', vocab_size: 100, type_vocab_size: 1 }, 'config.json');
    expect(roberta).toMatchObject({ modelType: 'roberta', vocabSize: 100, hiddenSize: 768, padTokenId: 1, typeVocabSize: 1, hiddenAct: 'gelu' });
    expect(bertConfigFromJson({ model_type: 'bert' }, 'c').padTokenId).toBe(0);
  });

  it('round-trips through the Hugging Face keys', () => {
    const config = bertConfigFromJson({ model_type: 'roberta', hidden_size: 64, num_attention_heads: 8, hidden_act: 'silu', layer_norm_eps: 1e-5 }, 'c');
    const json = bertConfigToJson(config);
    expect(json).toMatchObject({ architectures: ['RobertaModel'], model_type: 'roberta', hidden_size: 64, hidden_act: 'silu', layer_norm_eps: 1e-5 });
    expect(bertConfigFromJson(json, 'again')).toEqual(config);
  });

  it('names the file and key of a bad value, saying what was expected', () => {
    expect(() => bertConfigFromJson({ model_type: 'gpt2' }, 'm/config.json')).toThrow('m/config.json: "model_type": expected "bert" or "roberta", got "gpt2"');
    expect(() => bertConfigFromJson({ model_type: 'bert', hidden_act: 'mish' }, 'c')).toThrow('c: "hidden_act": expected one of gelu, gelu_new, gelu_pytorch_tanh, relu, silu, swish, got "mish"');
    expect(() => bertConfigFromJson({ model_type: 'bert', num_hidden_layers: 0 }, 'c')).toThrow('c: "num_hidden_layers": expected a positive integer, got 0');
    expect(() => bertConfigFromJson({ model_type: 'bert', hidden_dropout_prob: 1.5 }, 'c')).toThrow('c: "hidden_dropout_prob": expected a number in [0, 1), got 1.5');
    expect(() => bertConfigFromJson({ model_type: 'bert', hidden_size: 30, num_attention_heads: 4 }, 'c')).toThrow('c: "hidden_size": expected a multiple of num_attention_heads (4), got 30');
    expect(() => bertConfigFromJson({ model_type: 'bert', position_embedding_type: 'relative_key' }, 'c')).toThrow('"position_embedding_type": expected "absolute"');
  });

  it('reports an unreadable or malformed config.json by path', () => {
    const dir = mkdtempSync(join(tmpdir(), 'af-config-'));
    expect(() => readBertConfig(dir)).toThrow(`${join(dir, 'config.json')}: cannot read the model configuration: it does not exist; expected a Hugging Face model directory`);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'config.json'), '{"model_type": ');
    expect(() => readBertConfig(dir)).toThrow(`${join(dir, 'config.json')}: cannot parse as JSON`);
  });
});
