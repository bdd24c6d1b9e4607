//! Listing objects: filtered, sorted, one page at a time, with a count of
//! every match. Pages follow each other by keyset (the last row's sort
//! value and id), so a page costs the same however deep it is.

use sqlx::{Postgres, QueryBuilder};
use uuid::Uuid;

use super::{Catalog, ContentRecord, ContentRow, SELECT_CONTENT};

/// Which objects a listing includes.
#[derive(Clone, Debug, Default)]
pub struct ContentFilter {
    /// Names that contain this text, ignoring case.
    pub name_contains: Option<String>,
    /// Types that start with this text, ignoring case (`image/`).
    pub type_prefix: Option<String>,
    pub min_size: Option<u64>,
    pub max_size: Option<u64>,
    pub public_only: bool,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SortKey {
    /// Creation time (ids are time-ordered UUIDv7).
    #[default]
    Created,
    /// Name, ignoring case.
    Name,
    Size,
}

/// Where the previous page ended: its last object's sort value and id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum After {
    Created(Uuid),
    Name(String, Uuid),
    Size(u64, Uuid),
}

impl After {
    /// The position of `record` in a listing sorted by `key`.
    pub fn of(record: &ContentRecord, key: SortKey) -> After {
        match key {
            SortKey::Created => After::Created(record.id),
            SortKey::Name => After::Name(record.filename.clone(), record.id),
            SortKey::Size => After::Size(record.size, record.id),
        }
    }

    pub fn key(&self) -> SortKey {
        match self {
            After::Created(_) => SortKey::Created,
            After::Name(..) => SortKey::Name,
            After::Size(..) => SortKey::Size,
        }
    }
}

/// One page of a listing.
#[derive(Clone, Debug)]
pub struct PageRequest {
    pub key: SortKey,
    pub descending: bool,
    pub after: Option<After>,
    pub limit: i64,
}

impl Catalog {
    /// The objects of `filter` in the page's order.
    pub async fn list(
        &self,
        filter: &ContentFilter,
        page: &PageRequest,
    ) -> Result<Vec<ContentRecord>, sqlx::Error> {
        let mut query = QueryBuilder::new(SELECT_CONTENT);
        push_filter(&mut query, filter);
        let (sort_value, direction) = (sort_value(page.key), direction(page.descending));
        if let Some(after) = &page.after {
            let comparison = if page.descending { "<" } else { ">" };
            query.push(format!(" AND ({sort_value}, c.id) {comparison} ("));
            match after {
                After::Created(id) => query.push_bind(*id).push(", ").push_bind(*id),
                After::Name(name, id) => query
                    .push("lower(")
                    .push_bind(name.clone())
                    .push("), ")
                    .push_bind(*id),
                After::Size(size, id) => query
                    .push_bind(i64::try_from(*size).unwrap_or(i64::MAX))
                    .push(", ")
                    .push_bind(*id),
            };
            query.push(")");
        }
        query.push(format!(
            " ORDER BY {sort_value} {direction}, c.id {direction} LIMIT "
        ));
        query.push_bind(page.limit);
        let rows: Vec<ContentRow> = query.build_query_as().fetch_all(&self.pool).await?;
        Ok(rows.into_iter().map(ContentRecord::from).collect())
    }

    /// How many objects `filter` includes, on every page.
    pub async fn count_matching(&self, filter: &ContentFilter) -> Result<i64, sqlx::Error> {
        let mut query = QueryBuilder::new("SELECT count(*) FROM content c");
        push_filter(&mut query, filter);
        query.build_query_scalar().fetch_one(&self.pool).await
    }
}

/// Appends `WHERE …` for `filter` (always a `WHERE`, so callers append
/// `AND …`).
fn push_filter(query: &mut QueryBuilder<'_, Postgres>, filter: &ContentFilter) {
    // Parts are listed as the objects they make up, never alone.
    query
        .push(" WHERE c.bucket <> ")
        .push_bind(super::buckets::PARTS_BUCKET);
    if filter.public_only {
        query.push(" AND c.visibility = 'public'");
    }
    if let Some(text) = &filter.name_contains {
        query
            .push(" AND c.filename ILIKE ")
            .push_bind(format!("%{}%", escape_like(text)));
    }
    if let Some(prefix) = &filter.type_prefix {
        query
            .push(" AND c.content_type ILIKE ")
            .push_bind(format!("{}%", escape_like(prefix)));
    }
    if let Some(min) = filter.min_size {
        query
            .push(" AND c.size >= ")
            .push_bind(i64::try_from(min).unwrap_or(i64::MAX));
    }
    if let Some(max) = filter.max_size {
        query
            .push(" AND c.size <= ")
            .push_bind(i64::try_from(max).unwrap_or(i64::MAX));
    }
}

fn sort_value(key: SortKey) -> &'static str {
    match key {
        SortKey::Created => "c.id",
        SortKey::Name => "lower(c.filename)",
        SortKey::Size => "c.size",
    }
}

fn direction(descending: bool) -> &'static str {
    if descending { "DESC" } else { "ASC" }
}

/// `text` matched literally by `LIKE` (its default escape is `\`).
fn escape_like(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for char in text.chars() {
        if matches!(char, '%' | '_' | '\\') {
            escaped.push('\\');
        }
        escaped.push(char);
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::escape_like;

    #[test]
    fn like_wildcards_are_taken_literally() {
        assert_eq!(escape_like("50%_off\\"), "50\\%\\_off\\\\");
        assert_eq!(escape_like("Grüße"), "Grüße");
    }
}
