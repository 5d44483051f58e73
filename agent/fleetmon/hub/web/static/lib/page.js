// What every page module of the console shares (docs/console.md, "Adding a page"): one object of its page class
// on screen at a time, and the mark of its first draw that the tests and benchmarks wait for.

/**
 * A page module for the shell's PAGES: `meta` is {path, title, nav, role}; `open(root, params, ctx)` makes the
 * page object, whose `start()` draws it (the shell awaits it) and whose `stop()`, if any, ends its timers.
 */
export function pageModule(meta, open) {
  let page = null;
  return {
    ...meta,
    async render(root, params, ctx) {
      page = open(root, params, ctx);
      await page.start();
    },
    dispose() {
      if (page && page.stop) page.stop();
      page = null;
    },
  };
}

/** The page's first data is on screen: `document.body.dataset.ready` says so, and a `draw:PATH` measure how long
 * it took since `since` (a performance.now() of when the page began). */
export function markDrawn(path, since) {
  document.body.dataset.ready = path;
  performance.measure(`draw:${path}`, { start: since, end: performance.now() });
}

/** `run` (async) as a function that, called while a run is in flight, runs once more after it rather than once per
 * call: a burst of live events makes one extra read, not one each. `stopped()` ends the chain. */
export function coalesced(run, stopped = () => false) {
  let running = null;
  let again = false;
  const call = () => {
    if (running) {
      again = true;
      return running;
    }
    running = run().finally(() => {
      running = null;
      if (again && !stopped()) {
        again = false;
        return call();
      }
      return undefined;
    });
    return running;
  };
  return call;
}
