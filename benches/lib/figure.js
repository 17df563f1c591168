'use strict'

// A figure is one line of the results table: a measured value, the
// baseline it is compared with in the same run, and the target, if any.

const { summary, pairedRatio, round } = require('./stats')

/**
 * A ratio figure: `samples` and `baseSamples` are interleaved samples of
 * the measured arm and its baseline (one per round). Passes when the ratio
 * of medians is at most `maxRatio`.
 */
function ratioFigure({ id, name, unit, samples, baseName, baseSamples, maxRatio, note, detail }) {
  const measured = summary(samples)
  const base = summary(baseSamples)
  const ratio = measured.median / base.median
  return {
    id,
    name,
    unit,
    value: round(measured.median, 1),
    baseline: { name: baseName, value: round(base.median, 1) },
    ratio: round(ratio, 2),
    pairedRatio: round(pairedRatio(samples, baseSamples), 2),
    target: maxRatio === undefined ? null : { text: `≤ ${maxRatio}×`, maxRatio },
    pass: maxRatio === undefined ? null : ratio <= maxRatio,
    note: note || null,
    detail: { samples: measured, baselineSamples: base, ...(detail || {}) }
  }
}

/**
 * A difference figure: measured median minus baseline median, in the
 * samples' unit. Passes when the difference is at most `maxAdded`.
 */
function addedFigure({ id, name, unit, samples, baseName, baseSamples, maxAdded, note, detail }) {
  const measured = summary(samples)
  const base = summary(baseSamples)
  const added = measured.median - base.median
  return {
    id,
    name,
    unit,
    value: round(measured.median, 1),
    baseline: { name: baseName, value: round(base.median, 1) },
    added: round(added, 1),
    ratio: round(measured.median / base.median, 2),
    target: maxAdded === undefined ? null : { text: `≤ +${maxAdded} ${unit}`, maxAdded },
    pass: maxAdded === undefined ? null : added <= maxAdded,
    note: note || null,
    detail: { samples: measured, baselineSamples: base, ...(detail || {}) }
  }
}

/** A plain value with an optional check. */
function valueFigure({ id, name, unit, value, target, pass, note, detail }) {
  return {
    id,
    name,
    unit,
    value,
    baseline: null,
    target: target ? { text: target } : null,
    pass: pass === undefined ? null : pass,
    note: note || null,
    detail: detail || {}
  }
}

module.exports = { ratioFigure, addedFigure, valueFigure }
