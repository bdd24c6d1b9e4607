//! `cdn token create|ls|revoke` and `cdn share`.

use cdn_client::Client;
use cdn_client::wire::Scope;
use uuid::Uuid;

use super::{Output, TokenCommand, render};

pub async fn token(client: &Client, out: &Output, command: TokenCommand) -> anyhow::Result<()> {
    match command {
        TokenCommand::Create { name, scopes } => {
            let created = client.create_token(&name, &scopes).await?;
            if out.json {
                return out.json(&created);
            }
            // The secret alone on stdout, so `$(cdn token create …)` is the
            // token; the rest is for the person reading.
            out.line(&created.token)?;
            eprintln!(
                "created token {} ({}) with {}; the secret above is shown only this once",
                created.id,
                render::display_name(&created.name),
                scope_list(&created.scopes)
            );
            Ok(())
        }
        TokenCommand::Ls => {
            let tokens = client.tokens().await?;
            if out.json {
                return out.json(&tokens);
            }
            out.line(render::token_table(&tokens))
        }
        TokenCommand::Revoke { ids } => {
            for id in ids {
                client.revoke_token(id).await?;
                if !out.json {
                    out.line(format!("✓ revoked {id}"))?;
                }
            }
            Ok(())
        }
    }
}

pub async fn share(client: &Client, out: &Output, id: Uuid, expires: &str) -> anyhow::Result<()> {
    let link = client.share(id, expires).await?;
    if out.json {
        return out.json(&link);
    }
    out.line(&link.url)
}

pub fn scope_list(scopes: &[Scope]) -> String {
    scopes
        .iter()
        .map(|scope| scope.as_str())
        .collect::<Vec<_>>()
        .join(",")
}
