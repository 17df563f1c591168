'use strict'

// The structured clone algorithm rejects a Proxy with DataCloneError, so
// with the env proxy installed `structuredClone(process.env)`,
// `v8.serialize(process.env)` and `postMessage(process.env)` would throw.
// The wrappers below hand those entry points a plain copy of the proxy
// instead: when the value to clone is the proxy, or contains it as a
// direct property of a plain object or a direct element of an array, as in
// `{ env: process.env }`. A proxy nested deeper still throws.
//
// Every other value reaches the original function unchanged.
//
// NOTE: this is more lenient than Node.js without the preloader, where
// Node.js 14 to 22 reject `v8.serialize(process.env)` ("Unserializable host
// object") and Node.js 14 and 16 reject `postMessage(process.env)`. Those
// calls succeed here with the plain copy.

const v8 = require('v8')
const workerThreads = require('worker_threads')

const proxies = new WeakSet()
let wrapped = false

function isPlainObject(value) {
  const proto = Object.getPrototypeOf(value)
  return proto === Object.prototype || proto === null
}

// Copies the proxy into an object that the clone algorithm accepts. The
// copy reads every key through the proxy, so it contains the values the
// program reads.
function plainCopy(proxy) {
  return Object.assign({}, proxy)
}

// Returns a copy of `array` with each element that is the proxy replaced,
// or `array` itself when it contains none.
function replaceInArray(array, copyOfProxy) {
  let found = false
  for (let i = 0; i < array.length && !found; i++) {
    found = proxies.has(array[i])
  }
  if (!found) return array
  // Object.assign keeps holes and non-index properties, as the clone would.
  const copy = Object.assign(new Array(array.length), array)
  for (let i = 0; i < copy.length; i++) {
    if (proxies.has(copy[i])) copy[i] = copyOfProxy(copy[i])
    else if (copy[i] === array) copy[i] = copy
  }
  return copy
}

// Returns a copy of `object` with each own data property whose value is the
// proxy replaced, or `object` itself when it contains none. Descriptors are
// read rather than values so that a getter runs only once, in the copy.
function replaceInObject(object, copyOfProxy) {
  const keys = Object.keys(object)
  const found = keys.some((key) => {
    const descriptor = Object.getOwnPropertyDescriptor(object, key)
    return descriptor !== undefined && proxies.has(descriptor.value)
  })
  if (!found) return object
  const copy = Object.assign(Object.create(Object.getPrototypeOf(object)), object)
  for (const key of keys) {
    if (proxies.has(copy[key])) copy[key] = copyOfProxy(copy[key])
    else if (copy[key] === object) copy[key] = copy
  }
  return copy
}

// Returns the value to clone in place of `value`.
function cloneable(value) {
  if (value === null || typeof value !== 'object') return value
  try {
    if (proxies.has(value)) return plainCopy(value)
    // One copy per proxy keeps two references to it one object after the
    // clone, as they were before.
    const copies = new Map()
    const copyOfProxy = (proxy) => {
      if (!copies.has(proxy)) copies.set(proxy, plainCopy(proxy))
      return copies.get(proxy)
    }
    if (Array.isArray(value)) return replaceInArray(value, copyOfProxy)
    if (isPlainObject(value)) return replaceInObject(value, copyOfProxy)
  } catch (_) {
    // A value whose traps or getters throw is left for the original
    // function, which reports it as it would without the preloader.
  }
  return value
}

// The message that `new Worker()` posts to start the worker, which carries
// the `workerData` option as a property. Node.js 14 to 22 give it the type
// 'loadScript'.
// NOTE: this shape is internal to Node.js and may change in later versions.
// A message that does not match it is handled as any other.
function isWorkerLoadMessage(value) {
  if (value === null || typeof value !== 'object' || proxies.has(value)) return false
  try {
    if (!isPlainObject(value)) return false
    const type = Object.getOwnPropertyDescriptor(value, 'type')
    const workerData = Object.getOwnPropertyDescriptor(value, 'workerData')
    return type !== undefined && type.value === 'loadScript' && workerData !== undefined && 'value' in workerData
  } catch (_) {
    return false
  }
}

// Returns the message to post in place of `value`. The `workerData` of a
// Worker's load message gets the same treatment as a posted message, so
// that `workerData: { env: process.env }` is copied as well.
function cloneableMessage(value) {
  if (!isWorkerLoadMessage(value)) return cloneable(value)
  const workerData = cloneable(value.workerData)
  if (workerData === value.workerData) return value
  return Object.assign({}, value, { workerData })
}

// Replaces `holder[name]` with a function that passes its first argument
// through `prepare`, keeping the property's attributes, name and length.
function wrapMethod(holder, name, prepare = cloneable) {
  const descriptor = holder && Object.getOwnPropertyDescriptor(holder, name)
  if (!descriptor || !descriptor.configurable) return
  const original = descriptor.get ? descriptor.get.call(holder) : descriptor.value
  if (typeof original !== 'function') return
  const wrapper = {
    [name](...args) {
      if (args.length > 0) args[0] = prepare(args[0])
      return Reflect.apply(original, this, args)
    }
  }[name]
  Object.defineProperty(wrapper, 'length', { value: original.length })
  Object.defineProperty(holder, name, {
    value: wrapper,
    writable: true,
    enumerable: descriptor.enumerable,
    configurable: true
  })
}

// Wraps the entry points once per realm. `worker.postMessage`, the
// `workerData` of a new Worker and `BroadcastChannel#postMessage` all send
// through `MessagePort#postMessage`; BroadcastChannel is wrapped as well in
// case its handle ever stops being a MessagePort.
function install(proxy) {
  proxies.add(proxy)
  if (wrapped) return
  wrapped = true
  wrapMethod(globalThis, 'structuredClone')
  wrapMethod(v8.Serializer.prototype, 'writeValue')
  wrapMethod(workerThreads.MessagePort && workerThreads.MessagePort.prototype, 'postMessage', cloneableMessage)
  wrapMethod(workerThreads.BroadcastChannel && workerThreads.BroadcastChannel.prototype, 'postMessage')
}

module.exports = { install, cloneable }
