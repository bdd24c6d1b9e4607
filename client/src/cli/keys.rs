//! `cdn key create|ls|revoke` (S3 access keys) and `cdn bucket
//! public|private`.

use cdn_client::Client;
use cdn_client::wire::Visibility;

use super::tokens::scope_list;
use super::{BucketCommand, KeyCommand, Output, render};

pub async fn key(client: &Client, out: &Output, command: KeyCommand) -> anyhow::Result<()> {
    match command {
        KeyCommand::Create { name, scopes } => {
            let created = client.create_access_key(&name, &scopes).await?;
            if out.json {
                return out.json(&created);
            }
            // The two values an S3 client is configured with, in the form
            // of the environment variables they all read.
            out.line(format!("AWS_ACCESS_KEY_ID={}", created.access_key_id))?;
            out.line(format!(
                "AWS_SECRET_ACCESS_KEY={}",
                created.secret_access_key
            ))?;
            eprintln!(
                "created access key {} ({}) with {}; the secret above is shown only this once",
                created.id,
                render::display_name(&created.name),
                scope_list(&created.scopes)
            );
            Ok(())
        }
        KeyCommand::Ls => {
            let keys = client.access_keys().await?;
            if out.json {
                return out.json(&keys);
            }
            out.line(render::access_key_table(&keys))
        }
        KeyCommand::Revoke { ids } => {
            for id in ids {
                client.revoke_access_key(id).await?;
                if !out.json {
                    out.line(format!("✓ revoked {id}"))?;
                }
            }
            Ok(())
        }
    }
}

pub async fn bucket(client: &Client, out: &Output, command: BucketCommand) -> anyhow::Result<()> {
    let (name, visibility) = match command {
        BucketCommand::Public { name } => (name, Visibility::Public),
        BucketCommand::Private { name } => (name, Visibility::Private),
    };
    let bucket = client.set_bucket_visibility(&name, visibility).await?;
    if out.json {
        return out.json(&bucket);
    }
    out.line(format!(
        "✓ bucket {} and its objects are now {}",
        bucket.name, bucket.visibility
    ))
}
