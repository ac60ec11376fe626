// Loading by key (the DataLoader pattern): the keys resolvers ask for during one turn of the event
// loop are loaded with one call, each key once. A page of 50 commands then costs one query for
// their endpoints, not 50. Nothing is kept after a batch has loaded: a subscription's context
// lives as long as the subscription, and each event must see current rows.
export type Loader<K, V> = (key: K) => Promise<V | null>;

export function batchLoader<K, V>(loadMany: (keys: readonly K[]) => Promise<ReadonlyMap<K, V>>): Loader<K, V> {
  let next: { asked: Map<K, Promise<V | null>>; loaded: Promise<ReadonlyMap<K, V>> } | undefined;
  return (key) => {
    if (!next) {
      const asked = new Map<K, Promise<V | null>>();
      // setImmediate, not a microtask: sibling resolvers that await something first still join.
      const loaded = new Promise<void>((resolve) => setImmediate(resolve)).then(() => {
        next = undefined;
        return loadMany([...asked.keys()]);
      });
      next = { asked, loaded };
    }
    let value = next.asked.get(key);
    if (!value) {
      value = next.loaded.then((byKey) => byKey.get(key) ?? null);
      next.asked.set(key, value);
    }
    return value;
  };
}
