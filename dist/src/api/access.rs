//! Credentials on the way in: extractors that resolve the bearer token
//! before a handler runs, and so before any byte of a body is read (a
//! form's `token` field is the one credential read from a body: see
//! `form`). A refused request changes nothing.
//!
//! - [`Caller`]: whoever is asking, token or not (a token that is sent must
//!   be valid).
//! - [`Writer`], [`Admin`]: a caller whose token has `write` / `admin`.
//! - [`may_read`]: the rule for reading one object, private or not, and
//!   the [`Grant`] that allowed it.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use cdn_common::wire::{Scope, Visibility};
use serde::Deserialize;

use crate::auth::{LinkError, Principal};
use crate::catalog::ContentRecord;
use crate::error::ApiError;
use crate::state::AppState;

/// The caller of a request: the live token it sent, if any.
#[derive(Clone, Debug)]
pub struct Caller(pub Option<Principal>);

impl Caller {
    /// 401 without a token, 403 with one that lacks `scope`.
    pub fn require(&self, scope: Scope) -> Result<&Principal, ApiError> {
        match &self.0 {
            None => Err(ApiError::Unauthorized(format!(
                "this needs a bearer token with the {scope} scope (Authorization: Bearer …)"
            ))),
            Some(principal) if principal.allows(scope) => Ok(principal),
            Some(_) => Err(ApiError::Forbidden(format!(
                "the bearer token lacks the {scope} scope"
            ))),
        }
    }

    pub fn allows(&self, scope: Scope) -> bool {
        self.0
            .as_ref()
            .is_some_and(|principal| principal.allows(scope))
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        match bearer(&parts.headers)? {
            None => Ok(Caller(None)),
            Some(secret) => Ok(Caller(Some(state.access.authenticate(secret).await?))),
        }
    }
}

/// The secret of `Authorization: Bearer <secret>`, if the header is there.
fn bearer(headers: &HeaderMap) -> Result<Option<&str>, ApiError> {
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    let unusable = || {
        ApiError::Unauthorized("send the token as one header: Authorization: Bearer <token>".into())
    };
    if values.next().is_some() {
        return Err(unusable());
    }
    let text = value.to_str().map_err(|_| unusable())?;
    let (scheme, secret) = text.trim().split_once(' ').ok_or_else(unusable)?;
    let secret = secret.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || secret.is_empty() {
        return Err(unusable());
    }
    Ok(Some(secret))
}

/// Declares an extractor for callers whose token has one scope.
macro_rules! scoped_caller {
    ($(#[$doc:meta])* $name:ident, $scope:expr) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug)]
        pub struct $name;

        impl FromRequestParts<AppState> for $name {
            type Rejection = ApiError;

            async fn from_request_parts(
                parts: &mut Parts,
                state: &AppState,
            ) -> Result<Self, ApiError> {
                let caller = Caller::from_request_parts(parts, state).await?;
                caller.require($scope).map(|_| $name)
            }
        }
    };
}

scoped_caller!(
    /// A caller allowed to read private content.
    Reader,
    Scope::Read
);
scoped_caller!(
    /// A caller allowed to change content.
    Writer,
    Scope::Write
);
scoped_caller!(
    /// A caller allowed to manage tokens.
    Admin,
    Scope::Admin
);

/// The query of a presigned link.
#[derive(Debug, Default, Deserialize)]
pub struct LinkParams {
    expires: Option<String>,
    signature: Option<String>,
}

/// What allowed a read, which decides who may keep a copy of the answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Grant {
    /// The content is public.
    Public,
    /// A token with `read`.
    Token,
    /// A presigned link that works until `expires` (Unix seconds).
    Link { expires: i64 },
}

/// Whether `caller` may read `record`: public content needs nothing;
/// private content needs a `read` token or, for its bytes, a valid
/// presigned link (`link`).
pub fn may_read(
    state: &AppState,
    caller: &Caller,
    record: &ContentRecord,
    link: Option<&LinkParams>,
) -> Result<Grant, ApiError> {
    if record.visibility == Visibility::Public {
        return Ok(Grant::Public);
    }
    if let Some(link) = link
        && (link.expires.is_some() || link.signature.is_some())
    {
        let expires = link.expires.as_deref().and_then(|text| text.parse().ok());
        let (Some(expires), Some(signature)) = (expires, link.signature.as_deref()) else {
            return Err(ApiError::Forbidden(
                "a presigned link needs both expires (Unix seconds) and signature".into(),
            ));
        };
        return state
            .access
            .check_link(record.id, expires, signature)
            .map(|()| Grant::Link { expires })
            .map_err(|err: LinkError| ApiError::Forbidden(err.to_string()));
    }
    caller.require(Scope::Read).map(|_| Grant::Token).map_err(|err| match err {
        ApiError::Unauthorized(_) => ApiError::Unauthorized(
            "this content is private: send a bearer token with the read scope, or use a presigned link".into(),
        ),
        other => other,
    })
}
