/**
 * Sets and maps that only grow, for the fold of a stream: a state's `handled` ids and a stage's
 * batch ids gain one entry per event, and copying the whole collection at every event (to keep
 * earlier states as they were) made loading a run's stream quadratic in its batches.
 *
 * Every version shares one backing store with the versions it grew from and sees only the first
 * `size` entries of it, so a version never changes once made. Adding to the newest version
 * extends the store in place; adding to an older one (two folds from the same loaded state)
 * reuses the store when it adds the same entry the store already has next, and copies it otherwise.
 */
interface Store<K, V> {
  keys: K[];
  values: V[];
  /** Key -> its position in keys. */
  index: Map<K, number>;
}

function emptyStore<K, V>(): Store<K, V> {
  return { keys: [], values: [], index: new Map() };
}

/** The entries of `store` that a version of `size` sees, plus one more: the store it grows into. */
function grown<K, V>(store: Store<K, V>, size: number, key: K, value: V): Store<K, V> {
  if (store.keys.length === size) {
    store.keys.push(key);
    store.values.push(value);
    store.index.set(key, size);
    return store;
  }
  // The store has grown past this version: the same next entry is the same history.
  if (store.keys[size] === key && store.values[size] === value) return store;
  const copy: Store<K, V> = { keys: store.keys.slice(0, size), values: store.values.slice(0, size), index: new Map() };
  copy.keys.forEach((k, i) => copy.index.set(k, i));
  return grown(copy, size, key, value);
}

export class GrowingMap<K, V> implements ReadonlyMap<K, V> {
  private constructor(
    private readonly store: Store<K, V>,
    readonly size: number,
  ) {}

  static empty<K, V>(): GrowingMap<K, V> {
    return new GrowingMap(emptyStore<K, V>(), 0);
  }

  private position(key: K): number | undefined {
    const i = this.store.index.get(key);
    return i !== undefined && i < this.size ? i : undefined;
  }

  has(key: K): boolean {
    return this.position(key) !== undefined;
  }

  get(key: K): V | undefined {
    const i = this.position(key);
    return i === undefined ? undefined : this.store.values[i];
  }

  /** This map with `key` set to `value`, if it has no `key` yet (a key's first value stays). */
  withNew(key: K, value: V): GrowingMap<K, V> {
    if (this.has(key)) return this;
    return new GrowingMap(grown(this.store, this.size, key, value), this.size + 1);
  }

  *entries(): MapIterator<[K, V]> {
    for (let i = 0; i < this.size; i++) yield [this.store.keys[i], this.store.values[i]];
  }

  *keys(): MapIterator<K> {
    for (let i = 0; i < this.size; i++) yield this.store.keys[i];
  }

  *values(): MapIterator<V> {
    for (let i = 0; i < this.size; i++) yield this.store.values[i];
  }

  forEach(callback: (value: V, key: K, map: ReadonlyMap<K, V>) => void, thisArg?: unknown): void {
    for (let i = 0; i < this.size; i++) callback.call(thisArg, this.store.values[i], this.store.keys[i], this);
  }

  [Symbol.iterator](): MapIterator<[K, V]> {
    return this.entries();
  }
}

export class GrowingSet<T> implements ReadonlySet<T> {
  private constructor(private readonly map: GrowingMap<T, true>) {}

  static empty<T>(): GrowingSet<T> {
    return new GrowingSet(GrowingMap.empty<T, true>());
  }

  get size(): number {
    return this.map.size;
  }

  has(value: T): boolean {
    return this.map.has(value);
  }

  /** This set with `value` in it. */
  with(value: T): GrowingSet<T> {
    const map = this.map.withNew(value, true);
    return map === this.map ? this : new GrowingSet(map);
  }

  *entries(): SetIterator<[T, T]> {
    for (const k of this.map.keys()) yield [k, k];
  }

  keys(): SetIterator<T> {
    return this.map.keys();
  }

  values(): SetIterator<T> {
    return this.map.keys();
  }

  forEach(callback: (value: T, value2: T, set: ReadonlySet<T>) => void, thisArg?: unknown): void {
    for (const k of this.map.keys()) callback.call(thisArg, k, k, this);
  }

  [Symbol.iterator](): SetIterator<T> {
    return this.map.keys();
  }
}
