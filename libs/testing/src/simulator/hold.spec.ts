import { RequestHold } from './hold';

/** A client whose departure the test triggers. */
function client(): { onGone: (cb: () => void) => void; leave: () => void } {
  let callback = () => undefined as void;
  return { onGone: (cb) => void (callback = cb), leave: () => callback() };
}

describe('RequestHold', () => {
  it('given no plan, when requests come, then all run at once', async () => {
    const hold = new RequestHold();
    await expect(hold.admit(client().onGone)).resolves.toBe(true);
    expect(hold.status()).toEqual({ active: false, passed: 0, held: 0 });
  });

  it('given a hold after 1 request, when 3 come, then the first runs and the others wait for release', async () => {
    const hold = new RequestHold();
    hold.set({ afterRequests: 1 });
    await expect(hold.admit(client().onGone)).resolves.toBe(true);
    const second = hold.admit(client().onGone);
    const third = hold.admit(client().onGone);
    expect(hold.status()).toEqual({ active: true, passed: 1, held: 2 });
    expect(hold.release()).toBe(2);
    await expect(Promise.all([second, third])).resolves.toEqual([true, true]);
    expect(hold.status()).toEqual({ active: false, passed: 1, held: 0 });
  });

  it('given a held request, when its client leaves, then it never runs and is no longer counted', async () => {
    const hold = new RequestHold();
    hold.set({ afterRequests: 0 });
    const c = client();
    const held = hold.admit(c.onGone);
    c.leave();
    await expect(held).resolves.toBe(false);
    expect(hold.status().held).toBe(0);
    expect(hold.release()).toBe(0);
  });

  it('given a new plan, when set, then its allowance counts from zero', async () => {
    const hold = new RequestHold();
    hold.set({ afterRequests: 1 });
    await hold.admit(client().onGone);
    hold.set({ afterRequests: 1 });
    await expect(hold.admit(client().onGone)).resolves.toBe(true);
    expect(hold.status()).toEqual({ active: true, passed: 1, held: 0 });
  });
});
