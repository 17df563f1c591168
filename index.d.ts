// Types of the API that `require('@ragnos/vault-preloader')` returns.
// Written by hand: the napi CLI's native.d.ts describes the addon's own
// exports, which the package wraps.

declare namespace preloader {
  type Mode = 'off' | 'shadow' | 'dual' | 'vault'

  /**
   * Where a read of a managed key came from. `stale` is a cached Vault
   * value past its TTL, `override` the program's own write, `hidden` an
   * unresolved `vault:` reference, which reads as unset.
   */
  type Source = 'vault' | 'env' | 'stale' | 'override' | 'hidden'

  /**
   * One audit event, as written to the audit log and passed to `onAudit`
   * listeners. It never holds a secret value, a token or a secret id.
   */
  interface AuditEvent {
    /** RFC 3339 time in UTC, with milliseconds. */
    readonly time: string
    readonly pid: number
    /**
     * `startup`, `login`, `renewal`, `fetch`, `refresh`, `read`,
     * `fallback`, `recovered`, `shadow`, `rotated` or `killswitch`.
     */
    readonly event: string
    readonly key: string | null
    readonly source: Source | null
    readonly mode: Mode
    /**
     * A short code: the outcome of a shadow comparison (`match`,
     * `mismatch`, `missing_in_vault`, `missing_in_env`), why a key falls
     * back (`missing_in_vault`, `vault_unavailable`, `kill_switch`,
     * `invalid_reference`), an error kind, or `ok`.
     */
    readonly reason: string | null
    readonly latency_ms: number | null
    /** The KV document of `fetch` and `refresh` events, with its mount. */
    readonly path?: string
    /** `hmac-sha256:<hex>` of the Vault value, for shadow comparisons. */
    readonly vault_hmac?: string
    /** `hmac-sha256:<hex>` of the environment value. */
    readonly env_hmac?: string
    /** `open` or `closed`, on `killswitch` events. */
    readonly state?: 'open' | 'closed'
    readonly [field: string]: unknown
  }

  interface KillSwitchState {
    state: 'open' | 'closed'
    /** What opened the switch: Vault errors, `kill()`, or the kill file. */
    trigger: 'errors' | 'manual' | 'file' | null
    reason: string | null
  }

  /**
   * Counters. Reads are counted in the calling realm (the main thread or
   * one worker); every other counter is process-wide.
   */
  interface Stats {
    reads: {
      vault: number
      env: number
      stale: number
      override: number
      hidden: number
      total: number
    }
    cache: {
      /** Reads served from the cache: `vault` and `stale`. */
      hits: number
      /** Reads of keys that should come from Vault and had no value. */
      misses: number
    }
    vault: {
      /** Logins, renewals and document reads. */
      requests: number
      errors: number
    }
    fallbacks: {
      /** Environment reads of keys that should have come from Vault. */
      reads: number
      /** Keys that fall back now. */
      keys: number
    }
    audit: {
      emitted: number
      written: number
      /** Events dropped because the audit queue was full. */
      dropped: number
      /** Events that left the ring before this realm's listeners read them. */
      missedByListeners: number
    }
    killSwitch: KillSwitchState
    canary: {
      /** Keys the mode routes to Vault: canary keys in dual mode, all in vault mode. */
      keys: number
      /** Those of them served from Vault now. */
      fromVault: number
      /** `fromVault / keys`, or null without canary keys. */
      hitRate: number | null
    }
  }

  interface LastError {
    /** A KV path with its mount, `login` or `renew`. */
    target: string
    /** A fixed code such as `unreachable`, `permission_denied` or `timeout`. */
    kind: string
    time: string
  }

  interface Status {
    /** Whether the proxy is installed over `process.env`. */
    active: boolean
    mode: Mode
    /** Bumped on every change of what managed keys read as. */
    generation: number
    managedKeys: number
    /** The KV documents read, with their mounts. */
    paths: string[]
    loggedIn: boolean
    lastErrors: LastError[]
    killSwitch: 'open' | 'closed'
  }

  /** The effective settings, with credentials redacted. */
  interface Settings {
    mode: Mode
    canary_percent: number
    canary_salt: string
    app: string
    kv_mount: string
    search_paths: string[]
    include: string[]
    exclude: string[]
    secrets: Record<string, string>
    startup_timeout_ms: number
    strict: boolean
    log_level: string
    children: 'inherit' | 'env-only'
    scrub_credentials: boolean
    audit_log: string | null
    audit_every_read: boolean
    config_file: string
    vault: Record<string, unknown> | null
    [setting: string]: unknown
  }

  interface RotatedEvent {
    /** The keys whose Vault value changed. */
    keys: string[]
  }

  interface KillSwitchEvent {
    open: boolean
    reason: string
  }

  interface Preloader {
    stats(): Stats
    status(): Status
    /** The effective settings, or null when the addon did not load. */
    settings(): Settings | null
    /** Re-reads every KV document now. Resolves once every read has finished. */
    refresh(): Promise<void>
    /** Opens the kill switch. Returns whether its state changed. */
    kill(reason?: string): boolean
    /** Closes the kill switch. Returns whether its state changed. */
    revive(): boolean
    /** Puts the original `process.env` back. */
    uninstall(): void
    /**
     * Calls `listener` asynchronously with each audit event, in the realm
     * that registered it. Returns the function that unsubscribes it.
     */
    onAudit(listener: (event: AuditEvent) => void): () => void
    on(event: 'rotated', listener: (event: RotatedEvent) => void): this
    on(event: 'killswitch', listener: (event: KillSwitchEvent) => void): this
    off(event: 'rotated', listener: (event: RotatedEvent) => void): this
    off(event: 'killswitch', listener: (event: KillSwitchEvent) => void): this
  }
}

declare const preloader: preloader.Preloader

export = preloader
