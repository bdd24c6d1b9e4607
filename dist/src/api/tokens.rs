//! The admin API: `POST /tokens`, `GET /tokens`, `DELETE /tokens/{id}`;
//! and `GET /tokens/current`, which any token may ask about itself (the
//! dashboard's sign-in).

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use cdn_common::wire::{NewToken, TokenInfo, TokenList};

use super::access::{Admin, Caller};
use crate::error::ApiError;
use crate::state::AppState;

pub async fn create(
    _admin: Admin,
    State(state): State<AppState>,
    body: Result<Json<NewToken>, JsonRejection>,
) -> Result<impl IntoResponse, ApiError> {
    let Json(new) = body?;
    let created = state.access.create_token(&new.name, &new.scopes).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

pub async fn list(
    _admin: Admin,
    State(state): State<AppState>,
) -> Result<Json<TokenList>, ApiError> {
    Ok(Json(TokenList {
        tokens: state.access.list_tokens().await?,
    }))
}

pub async fn revoke(
    _admin: Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id = uuid::Uuid::try_parse(&id)
        .map_err(|_| ApiError::BadRequest(format!("{id:?} is not a token id (a UUID)")))?;
    state.access.revoke_token(id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The caller's own token: 401 without one.
pub async fn current(caller: Caller) -> Result<Json<TokenInfo>, ApiError> {
    match caller.0 {
        Some(principal) => Ok(Json(principal.token)),
        None => Err(ApiError::Unauthorized(
            "no bearer token was sent (Authorization: Bearer …)".into(),
        )),
    }
}
