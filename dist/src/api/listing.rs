//! `GET /content`: a page of objects, filtered and sorted, with a count of
//! every match.
//!
//! The cursor names where the previous page ended: the last object's id,
//! and for a sort by name or size its name or size too (`ID.n.NAME` with
//! the name in base64url, `ID.s.SIZE`). It only continues a listing in the
//! same order.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use cdn_common::ByteSize;
use cdn_common::wire::{ContentList, DEFAULT_PAGE, MAX_PAGE, Scope};
use serde::Deserialize;
use uuid::Uuid;

use super::access::Caller;
use super::base_url;
use super::content::describe;
use crate::catalog::{After, ContentFilter, PageRequest, SortKey};
use crate::error::ApiError;
use crate::state::AppState;

/// The longest search text: a listing is not a place for essays.
const MAX_SEARCH_LEN: usize = 200;

#[derive(Debug, Deserialize)]
pub struct ListParams {
    limit: Option<u32>,
    cursor: Option<String>,
    /// Names containing this, ignoring case.
    q: Option<String>,
    /// Types starting with this (`image/`).
    r#type: Option<String>,
    min_size: Option<String>,
    max_size: Option<String>,
    /// `created` (default), `name` or `size`.
    sort: Option<String>,
    /// `desc` or `asc`; descending unless sorting by name.
    order: Option<String>,
}

pub async fn list(
    caller: Caller,
    State(state): State<AppState>,
    headers: HeaderMap,
    params: Result<Query<ListParams>, QueryRejection>,
) -> Result<Json<ContentList>, ApiError> {
    // Everything with `read`; public content alone when listing is open.
    let include_private = caller.allows(Scope::Read);
    if !include_private && !state.access.public_listing() {
        caller.require(Scope::Read)?;
    }
    let Query(params) = params?;
    let filter = ContentFilter {
        name_contains: search_text("q", params.q)?,
        type_prefix: search_text("type", params.r#type)?,
        min_size: size_bound("min_size", params.min_size.as_deref())?,
        max_size: size_bound("max_size", params.max_size.as_deref())?,
        public_only: !include_private,
    };
    let key = match params.sort.as_deref() {
        None | Some("created") => SortKey::Created,
        Some("name") => SortKey::Name,
        Some("size") => SortKey::Size,
        Some(other) => {
            return Err(ApiError::BadRequest(format!(
                "sort must be created, name or size, not {other:?}"
            )));
        }
    };
    let descending = match params.order.as_deref() {
        None => key != SortKey::Name,
        Some("desc") => true,
        Some("asc") => false,
        Some(other) => {
            return Err(ApiError::BadRequest(format!(
                "order must be asc or desc, not {other:?}"
            )));
        }
    };
    let limit = params.limit.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(ApiError::BadRequest(format!(
            "limit must be 1 to {MAX_PAGE}, not {limit}"
        )));
    }
    let after = params
        .cursor
        .as_deref()
        .map(|cursor| decode_cursor(cursor, key))
        .transpose()?;
    // One more than asked tells whether another page follows.
    let page = PageRequest {
        key,
        descending,
        after,
        limit: i64::from(limit) + 1,
    };
    let (mut records, total) = state.objects.list(&filter, &page).await?;
    let next_cursor = if records.len() > limit as usize {
        records.truncate(limit as usize);
        records
            .last()
            .map(|record| encode_cursor(&After::of(record, key)))
    } else {
        None
    };
    let base = base_url(&state, &headers);
    Ok(Json(ContentList {
        items: records
            .iter()
            .map(|record| describe(record, &base))
            .collect(),
        next_cursor,
        total,
    }))
}

/// A search parameter: trimmed, `None` when empty, refused when too long.
fn search_text(name: &str, text: Option<String>) -> Result<Option<String>, ApiError> {
    let Some(text) = text.map(|text| text.trim().to_owned()) else {
        return Ok(None);
    };
    if text.contains('\0') {
        return Err(ApiError::BadRequest(format!(
            "{name} may not contain a NUL character"
        )));
    }
    if text.len() > MAX_SEARCH_LEN {
        return Err(ApiError::BadRequest(format!(
            "{name} may be {MAX_SEARCH_LEN} bytes at most"
        )));
    }
    Ok((!text.is_empty()).then_some(text))
}

fn size_bound(name: &str, text: Option<&str>) -> Result<Option<u64>, ApiError> {
    match text.map(str::trim).filter(|text| !text.is_empty()) {
        None => Ok(None),
        Some(text) => text
            .parse::<ByteSize>()
            .map(|size| Some(size.bytes()))
            .map_err(|err| ApiError::BadRequest(format!("{name}: {err}"))),
    }
}

fn encode_cursor(after: &After) -> String {
    match after {
        After::Created(id) => id.to_string(),
        After::Name(name, id) => format!("{id}.n.{}", URL_SAFE_NO_PAD.encode(name)),
        After::Size(size, id) => format!("{id}.s.{size}"),
    }
}

/// The position a cursor names; it must come from a listing in `key`'s
/// order.
fn decode_cursor(cursor: &str, key: SortKey) -> Result<After, ApiError> {
    let bad = || ApiError::BadRequest(format!("{cursor:?} is not a cursor from a previous page"));
    let (id, rest) = match cursor.split_once('.') {
        Some((id, rest)) => (id, Some(rest)),
        None => (cursor, None),
    };
    let id = Uuid::try_parse(id).map_err(|_| bad())?;
    let after = match rest.map(|rest| rest.split_once('.')) {
        None => After::Created(id),
        Some(Some(("n", name))) => {
            let name = URL_SAFE_NO_PAD.decode(name).map_err(|_| bad())?;
            let name = String::from_utf8(name).map_err(|_| bad())?;
            if name.contains('\0') {
                return Err(bad());
            }
            After::Name(name, id)
        }
        Some(Some(("s", size))) => After::Size(size.parse().map_err(|_| bad())?, id),
        Some(_) => return Err(bad()),
    };
    if after.key() != key {
        return Err(ApiError::BadRequest(
            "that cursor continues a listing in another order: pass the same sort".into(),
        ));
    }
    Ok(after)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_in_every_order() {
        let id = Uuid::now_v7();
        for after in [
            After::Created(id),
            After::Name("a.b Grüße/..".into(), id),
            After::Size(12345, id),
        ] {
            let cursor = encode_cursor(&after);
            assert_eq!(decode_cursor(&cursor, after.key()).unwrap(), after);
        }
    }

    #[test]
    fn a_cursor_of_another_order_or_form_is_refused() {
        let id = Uuid::now_v7();
        let by_size = encode_cursor(&After::Size(1, id));
        assert!(decode_cursor(&by_size, SortKey::Name).is_err());
        for junk in [
            "",
            "x",
            &format!("{id}.q.1"),
            &format!("{id}.s.-1"),
            &format!("{id}.n.!!"),
        ] {
            assert!(decode_cursor(junk, SortKey::Size).is_err(), "{junk:?}");
        }
        // A name of one NUL character, which PostgreSQL cannot take.
        assert!(decode_cursor(&format!("{id}.n.AA"), SortKey::Name).is_err());
    }
}
