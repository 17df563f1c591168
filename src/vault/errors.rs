//! Turns `vaultrs` errors into the crate's errors, keeping the cause that a
//! person can act on (connection refused, permission denied, ...).

use vaultrs::error::ClientError;

use crate::error::Error;

/// Describes an error by its innermost cause, which for a failed connection
/// is the operating system's message rather than the HTTP client's wrapper.
pub fn describe(error: &ClientError) -> String {
  if let ClientError::APIError { code, errors } = error {
    return api_message(*code, errors);
  }
  innermost(error)
}

fn api_message(code: u16, errors: &[String]) -> String {
  match errors.first() {
    Some(first) => format!("status {code}: {}", first.replace('\n', " ")),
    None => format!("status {code}"),
  }
}

/// Returns the HTTP status of an error response, whether or not its body
/// held Vault's usual error list.
pub fn status(error: &ClientError) -> Option<u16> {
  match error {
    ClientError::APIError { code, .. } => Some(*code),
    ClientError::RestClientError {
      source: rustify::errors::ClientError::ServerResponseError { code, .. },
    } => Some(*code),
    _ => None,
  }
}

/// Tells whether the request never got a response: a refused or timed out
/// connection, a TLS failure, a reset. A server that responded with
/// something unexpected is not "unreachable".
pub fn no_response(error: &ClientError) -> bool {
  use rustify::errors::ClientError as Http;
  matches!(
    error,
    ClientError::RestClientError {
      source: Http::RequestError { .. } | Http::ResponseError { .. },
    }
  )
}

/// Maps a failed token lookup: 403 means the token was rejected; anything
/// without a status means the server was not reached.
pub fn classify_login(error: &ClientError, address: &str) -> Error {
  match status(error) {
    Some(403) | Some(401) => Error::TokenRejected {
      address: address.to_string(),
      status: status(error).unwrap_or(403),
    },
    Some(_) => Error::Read {
      path: "auth/token/lookup-self".into(),
      reason: describe(error),
    },
    None => Error::Unreachable {
      address: address.to_string(),
      reason: describe(error),
    },
  }
}

/// Describes an error by its innermost cause.
pub fn innermost(error: &dyn std::error::Error) -> String {
  let mut cause = error;
  while let Some(next) = cause.source() {
    cause = next;
  }
  cause.to_string()
}

/// Returns ": <first error>" from a Vault error body, or nothing.
pub fn first_error(body: &serde_json::Value) -> String {
  body
    .pointer("/errors/0")
    .and_then(|v| v.as_str())
    .map(|e| format!(": {}", e.replace('\n', " ").trim()))
    .unwrap_or_default()
}
