//! The `cdn token ls` table.

use cdn_client::wire::TokenInfo;
use comfy_table::CellAlignment::Left;

use super::{columns, display_name};

/// One row per token; a token never used or not revoked shows a dash.
pub fn token_table(tokens: &[TokenInfo]) -> String {
    let when = |at: Option<chrono::DateTime<chrono::Utc>>| {
        at.map(|at| at.format("%Y-%m-%d %H:%M").to_string())
            .unwrap_or_else(|| "-".to_owned())
    };
    let rows = tokens.iter().map(|token| {
        [
            token.id.to_string(),
            token
                .scopes
                .iter()
                .map(|scope| scope.as_str())
                .collect::<Vec<_>>()
                .join(","),
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

#[cfg(test)]
mod tests {
    use cdn_client::wire::Scope;
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
}
