import { chooseReplica, replicaDown, replicaOrder, workerReplicas } from './replicas';

const REPLICAS = ['http://gpu-0:8000/v1', 'http://gpu-1:8000/v1', 'http://gpu-2:8000/v1', 'http://gpu-3:8000/v1'];
const entities = Array.from({ length: 400 }, (_, i) => `e${i}`);

describe('replicaOrder (consistent hashing of the entity)', () => {
  it('given the same entity and list, when asked twice or with the list reordered, then the same order (every worker agrees)', () => {
    for (const e of entities.slice(0, 20)) {
      expect(replicaOrder(e, REPLICAS)).toEqual(replicaOrder(e, [...REPLICAS].reverse()));
      expect([...replicaOrder(e, REPLICAS)].sort()).toEqual([...REPLICAS].sort());
    }
  });

  it('given 400 entities over 4 replicas, when ordered, then each replica is first for a fair share of them', () => {
    const first = new Map<string, number>();
    for (const e of entities) first.set(replicaOrder(e, REPLICAS)[0], (first.get(replicaOrder(e, REPLICAS)[0]) ?? 0) + 1);
    expect(first.size).toBe(4);
    for (const n of first.values()) expect(n).toBeGreaterThan(60);
  });

  it('given a replica removed from the list, when ordered again, then only the entities it served move', () => {
    const without = REPLICAS.filter((r) => r !== REPLICAS[2]);
    for (const e of entities) {
      const before = replicaOrder(e, REPLICAS);
      const after = replicaOrder(e, without);
      expect(after).toEqual(before.filter((r) => r !== REPLICAS[2]));
    }
  });
});

describe('chooseReplica (failover)', () => {
  const order = ['a', 'b', 'c'];
  it('given every replica up, when choosing, then the preferred one and no failover', () => {
    expect(chooseReplica(order, () => false)).toEqual({ replica: 'a', failoverFrom: null });
  });
  it('given the preferred replica down, when choosing, then the next one up, failed over from the preferred', () => {
    expect(chooseReplica(order, (r) => r === 'a')).toEqual({ replica: 'b', failoverFrom: 'a' });
    expect(chooseReplica(order, (r) => r !== 'c')).toEqual({ replica: 'c', failoverFrom: 'a' });
  });
  it('given every replica down, when choosing, then the preferred one (the retries back off; nowhere better to go)', () => {
    expect(chooseReplica(order, () => true)).toEqual({ replica: 'a', failoverFrom: null });
  });
});

describe('replicaDown', () => {
  it('given a call without an HTTP answer, then the replica counts as down; given an HTTP error, then it is alive', () => {
    expect(replicaDown({ status: null })).toBe(true);
    expect(replicaDown({ status: 503 })).toBe(false);
    expect(replicaDown({ status: 400 })).toBe(false);
  });
});

describe('workerReplicas', () => {
  const settings = { baseUrl: REPLICAS[0], replicas: REPLICAS };
  it('given no ASSAY_MODEL_BASE_URL, then the config replicas (or its one server)', () => {
    expect(workerReplicas(settings, {})).toEqual({ replicas: REPLICAS, source: 'model.base_url' });
    expect(workerReplicas({ baseUrl: REPLICAS[1] }, { ASSAY_MODEL_BASE_URL: ' ' })).toEqual({ replicas: [REPLICAS[1]], source: 'model.base_url' });
  });
  it('given ASSAY_MODEL_BASE_URL, when set to one URL or a comma list, then it replaces the config for this worker', () => {
    expect(workerReplicas(settings, { ASSAY_MODEL_BASE_URL: 'http://127.0.0.1:8000/v1' })).toEqual({ replicas: ['http://127.0.0.1:8000/v1'], source: 'ASSAY_MODEL_BASE_URL' });
    expect(workerReplicas(settings, { ASSAY_MODEL_BASE_URL: 'http://a:1/v1, http://b:1/v1' }).replicas).toEqual(['http://a:1/v1', 'http://b:1/v1']);
  });
  it('given ASSAY_MODEL_BASE_URL that is not an http URL, then an error naming the variable and the value', () => {
    expect(() => workerReplicas(settings, { ASSAY_MODEL_BASE_URL: 'gpu-0:8000' })).toThrow("ASSAY_MODEL_BASE_URL: 'gpu-0:8000' is not an http(s) URL");
  });
});
