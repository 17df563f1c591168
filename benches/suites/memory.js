'use strict'

// Figure 3: memory. The figure is RSS after startup and a settle with the
// preloader (20 managed keys) minus RSS without it, as medians of
// interleaved runs (target: at most 6 MB). The breakdown by kind of mapping,
// from /proc/self/smaps, shows where the difference lives.

const { measureMemory } = require('../lib/memory')
const { addedFigure } = require('../lib/figure')

const ADDED_TARGET_MB = 6

async function run(ctx) {
  const { fixture, config } = ctx
  const env = fixture.env({ mode: 'vault' })
  const memory = await measureMemory(ctx, env, { ...config.memory, label: 'memory' })
  const { samples, where, threads, heapUsedMB, builtins } = memory
  const figure = addedFigure({
    id: '3.rss',
    name: `RSS after startup (+${config.memory.settleMs} ms settle), 20 managed keys`,
    unit: 'MB',
    samples: samples.preloader,
    baseName: 'same program without the preloader',
    baseSamples: samples.plain,
    maxAdded: ADDED_TARGET_MB,
    note: `of which ${builtins.addedMB} MB is loading the Node.js built-ins that lib/ requires (${builtins.modules.join(', ') || 'none'}), ${builtins.restMB} MB the rest: the addon's code and threads, lib/*.js`,
    detail: { whereMB: where, builtins, threads, jsHeapUsedMB: heapUsedMB }
  })
  return { figures: [figure] }
}

module.exports = { run, ADDED_TARGET_MB }
