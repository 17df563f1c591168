//! How the preloader logs in: a token (from a variable or ~/.vault-token),
//! AppRole, Kubernetes or JWT. Login material read from files is read again
//! at every login, so a rotated file takes effect without a restart.

use std::path::PathBuf;

use super::credentials::{vault_var, Secret};
use super::source::Sources;
use crate::error::Error;

/// Where a Kubernetes pod finds its service account token.
pub const KUBERNETES_TOKEN_FILE: &str = "/var/run/secrets/kubernetes.io/serviceaccount/token";

/// The login method and what it needs.
#[derive(Debug, Clone)]
pub enum AuthMethod {
  /// A token given as it is; `None` behind a Vault or OpenBao proxy whose
  /// auto-auth adds the token.
  Token(Option<Secret>),
  AppRole {
    role_id: String,
    secret_id: SecretSource,
  },
  Kubernetes {
    role: String,
    jwt_file: PathBuf,
  },
  Jwt {
    role: Option<String>,
    jwt_file: PathBuf,
  },
}

/// A credential given as a value or as a file to read at login.
#[derive(Debug, Clone)]
pub enum SecretSource {
  Value(Secret),
  File(PathBuf),
}

/// The login method and the path its auth method is mounted at.
#[derive(Debug, Clone)]
pub struct AuthSettings {
  pub method: AuthMethod,
  pub mount: String,
}

impl AuthSettings {
  /// Names the method, for messages and `settings()`.
  pub fn method_name(&self) -> &'static str {
    match self.method {
      AuthMethod::Token(_) => "token",
      AuthMethod::AppRole { .. } => "approle",
      AuthMethod::Kubernetes { .. } => "kubernetes",
      AuthMethod::Jwt { .. } => "jwt",
    }
  }

  /// Tells whether the method logs in, so a rejected token can be
  /// replaced by logging in again.
  pub fn logs_in(&self) -> bool {
    !matches!(self.method, AuthMethod::Token(_))
  }
}

const METHODS: &[&str] = &["token", "approle", "kubernetes", "jwt"];

/// Reads the login settings. `token` is what the token lookup found.
pub fn read_auth(src: &Sources, token: Option<Secret>) -> Result<AuthSettings, Error> {
  let role_id = vault_var(src, "VAULT_ROLE_ID").map(|(_, v)| v.to_string());
  let explicit = src.string("RAGNOS_VAULT_AUTH_METHOD", "auth_method", METHODS)?;
  let method = explicit.unwrap_or_else(|| {
    // A role id in the environment asks for AppRole, as Vault's own
    // agent reads it.
    if role_id.is_some() {
      "approle"
    } else {
      "token"
    }
    .to_string()
  });
  let mount = src
    .string("RAGNOS_VAULT_AUTH_MOUNT", "auth_mount", &[])?
    .unwrap_or_else(|| method.clone())
    .trim_matches('/')
    .to_string();
  let role = src.string("RAGNOS_VAULT_AUTH_ROLE", "auth_role", &[])?;
  let jwt_file = src
    .string("RAGNOS_VAULT_JWT_FILE", "jwt_file", &[])?
    .map(PathBuf::from);

  let method = match method.as_str() {
    "approle" => AuthMethod::AppRole {
      role_id: role_id
        .or(src.string("", "role_id", &[])?)
        .ok_or_else(|| missing("role_id", "VAULT_ROLE_ID", "AppRole"))?,
      secret_id: read_secret_id(src)?,
    },
    "kubernetes" => AuthMethod::Kubernetes {
      role: role.ok_or_else(|| missing("auth_role", "RAGNOS_VAULT_AUTH_ROLE", "Kubernetes"))?,
      jwt_file: jwt_file.unwrap_or_else(|| PathBuf::from(KUBERNETES_TOKEN_FILE)),
    },
    "jwt" => AuthMethod::Jwt {
      role,
      jwt_file: jwt_file.ok_or_else(|| missing("jwt_file", "RAGNOS_VAULT_JWT_FILE", "JWT"))?,
    },
    _ => AuthMethod::Token(token),
  };
  Ok(AuthSettings { method, mount })
}

fn read_secret_id(src: &Sources) -> Result<SecretSource, Error> {
  if let Some((_, value)) = vault_var(src, "VAULT_SECRET_ID") {
    return Ok(SecretSource::Value(Secret::new(value)));
  }
  match src.string("RAGNOS_VAULT_SECRET_ID_FILE", "secret_id_file", &[])? {
    Some(path) => Ok(SecretSource::File(PathBuf::from(path))),
    None => Err(missing(
      "secret_id",
      "VAULT_SECRET_ID or RAGNOS_VAULT_SECRET_ID_FILE",
      "AppRole",
    )),
  }
}

fn missing(field: &'static str, variable: &str, method: &str) -> Error {
  Error::InvalidSetting {
    field,
    value: String::new(),
    origin: "the auth settings".into(),
    reason: format!("{method} login needs {variable}"),
  }
}
