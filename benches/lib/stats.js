'use strict'

// Small statistics helpers. Every figure is a median; spreads are given as
// the 25th and 75th percentiles so a reader can tell a noisy run.

function sorted(values) {
  return values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b)
}

function quantile(values, q) {
  const s = sorted(values)
  if (s.length === 0) return NaN
  const position = (s.length - 1) * q
  const low = Math.floor(position)
  const high = Math.ceil(position)
  return s[low] + (s[high] - s[low]) * (position - low)
}

function median(values) {
  return quantile(values, 0.5)
}

/** Median, quartiles, min, max and count of a sample. */
function summary(values) {
  const s = sorted(values)
  return {
    median: median(s),
    p25: quantile(s, 0.25),
    p75: quantile(s, 0.75),
    min: s.length ? s[0] : NaN,
    max: s.length ? s[s.length - 1] : NaN,
    n: s.length
  }
}

/** Median of the per-round ratios a[i] / b[i] of two interleaved samples. */
function pairedRatio(a, b) {
  const ratios = []
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    if (Number.isFinite(a[i]) && Number.isFinite(b[i]) && b[i] !== 0) ratios.push(a[i] / b[i])
  }
  return median(ratios)
}

function round(value, digits = 2) {
  if (!Number.isFinite(value)) return value
  const factor = 10 ** digits
  return Math.round(value * factor) / factor
}

module.exports = { median, quantile, summary, pairedRatio, round }
