//! The `cdn token ls` and `cdn key ls` tables.

use cdn_client::wire::{AccessKeyInfo, Scope, TokenInfo};
use comfy_table::CellAlignment::Left;

use super::{columns, display_name};

/// One row per token; a token never used or not revoked shows a dash.
pub fn token_table(tokens: &[TokenInfo]) -> String {
    let rows = tokens.iter().map(|token| {
        [
            token.id.to_string(),
            scope_list(&token.scopes),
            token.created_at.format("%Y-%m-%d %H:%M").to_string(),
            when(token.last_used_at),
            when(token.revoked_at),
            display_name(&token.name),
        ]
    });
    columns(
        Some(&[
            "ID",
            "SCOPES",
            "CREATED (UTC)",
            "LAST USED",
            "REVOKED",
            "NAME",
        ]),
        &[Left; 6],
        rows,
    )
}

/// One row per access key, like the tokens' with the key id the S3
/// clients sign with.
pub fn access_key_table(keys: &[AccessKeyInfo]) -> String {
    let rows = keys.iter().map(|key| {
        [
            key.id.to_string(),
            key.access_key_id.clone(),
            scope_list(&key.scopes),
            key.created_at.format("%Y-%m-%d %H:%M").to_string(),
            when(key.last_used_at),
            when(key.revoked_at),
            display_name(&key.name),
        ]
    });
    columns(
        Some(&[
            "ID",
            "ACCESS KEY ID",
            "SCOPES",
            "CREATED (UTC)",
            "LAST USED",
            "REVOKED",
            "NAME",
        ]),
        &[Left; 7],
        rows,
    )
}

fn when(at: Option<chrono::DateTime<chrono::Utc>>) -> String {
    at.map(|at| at.format("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_else(|| "-".to_owned())
}

fn scope_list(scopes: &[Scope]) -> String {
    scopes
        .iter()
        .map(|scope| scope.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use uuid::Uuid;

    use super::super::tests::at;
    use super::*;

    #[test]
    fn tokens_show_scopes_and_dashes_for_what_never_happened() {
        let token = TokenInfo {
            id: Uuid::nil(),
            name: "ci".into(),
            scopes: vec![Scope::Read, Scope::Write],
            created_at: at("2025-03-01T10:00:00Z"),
            last_used_at: None,
            revoked_at: Some(at("2025-03-02T11:30:00Z")),
        };
        let table = token_table(&[token]);
        let row = table.lines().nth(1).unwrap();
        assert!(row.contains("read,write"), "{table}");
        assert!(row.contains("  -  "), "{table}");
        assert!(row.contains("2025-03-02 11:30"), "{table}");
        assert!(row.ends_with("ci"), "{table}");
    }

    #[test]
    fn access_keys_show_their_key_id_but_never_a_secret() {
        let key = AccessKeyInfo {
            id: Uuid::nil(),
            name: "laptop".into(),
            scopes: vec![Scope::Read],
            access_key_id: "CDNAAAAAAAAAAAAAAAAA".into(),
            created_at: at("2025-03-01T10:00:00Z"),
            last_used_at: Some(at("2025-03-01T12:00:00Z")),
            revoked_at: None,
        };
        let table = access_key_table(&[key]);
        assert!(table.lines().next().unwrap().contains("ACCESS KEY ID"));
        let row = table.lines().nth(1).unwrap();
        assert!(row.contains("CDNAAAAAAAAAAAAAAAAA  read"), "{table}");
        assert!(row.contains("2025-03-01 12:00  -"), "{table}");
        assert!(row.ends_with("laptop"), "{table}");
    }
}
