/**
 * The results of `compute` by string key (a word, a grapheme cluster), cleared when `limit` keys are held: a corpus
 * has ever more distinct words, and clearing when full keeps memory flat at little cost.
 */
export class BoundedCache<V> {
  private readonly entries = new Map<string, V>();

  constructor(
    private readonly compute: (key: string) => V,
    private readonly limit = 100_000,
  ) {}

  /** `compute(key)`, computed once while the cache holds it. */
  get(key: string): V {
    let value = this.entries.get(key);
    if (value === undefined) {
      value = this.compute(key);
      if (this.entries.size >= this.limit) this.entries.clear();
      this.entries.set(key, value);
    }
    return value;
  }
}
