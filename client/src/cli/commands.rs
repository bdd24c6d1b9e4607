//! One function per subcommand: call the library, then print the answer as
//! JSON or as text.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use cdn_client::wire::{Content, ContentList, Visibility};
use cdn_client::{Client, safe_file_name};
use uuid::Uuid;

use super::bar::TransferBar;
use super::render;
use super::{DownloadArgs, ListArgs, Output};

pub async fn upload(
    client: &Client,
    out: &Output,
    files: &[PathBuf],
    name: Option<&str>,
    visibility: Option<Visibility>,
) -> anyhow::Result<()> {
    let mut uploaded = Vec::new();
    let mut failures = 0;
    for file in files {
        let bar = TransferBar::new(file.display().to_string());
        match client.upload_file_as(file, name, visibility, bar).await {
            Ok(content) => {
                if !out.json {
                    out.line(format!("✓ {}", render::stored_line(&content)))?;
                }
                uploaded.push(content);
            }
            // Alone, the error needs no file name to be understood.
            Err(error) if files.len() == 1 => return Err(error.into()),
            Err(error) => {
                failures += 1;
                eprintln!("error: {}: {:#}", file.display(), anyhow::Error::new(error));
            }
        }
    }
    if out.json {
        match uploaded.as_slice() {
            [one] if files.len() == 1 => out.json(one)?,
            all => out.json(&all)?,
        }
    }
    if failures > 0 {
        bail!("{failures} of {} uploads failed", files.len());
    }
    Ok(())
}

pub async fn download(client: &Client, out: &Output, args: DownloadArgs) -> anyhow::Result<()> {
    let DownloadArgs { id, output, force } = args;
    let output = output.as_deref();
    let mut content: Option<Content> = None;
    let path = match output.filter(|path| !path.is_dir()) {
        Some(path) => path.to_owned(),
        None => {
            let info = client.info(id).await?;
            let name = safe_file_name(&info.filename).context(
                "the object's name cannot be used as a local file name; choose one with -o",
            )?;
            let path = output.unwrap_or(Path::new("")).join(name);
            // The name came from the server: never let it silently replace
            // a local file such as a dotfile.
            let exists = tokio::fs::try_exists(&path)
                .await
                .with_context(|| format!("cannot check whether {} exists", path.display()))?;
            if exists && !force {
                bail!(
                    "{} already exists; pass --force to replace it, or choose another path with -o",
                    path.display()
                );
            }
            content = Some(info);
            path
        }
    };

    let bar = TransferBar::new(path.display().to_string());
    let downloaded = client.download_to_file(id, &path, bar).await?;
    if out.json {
        let content = match content {
            Some(content) => content,
            None => client.info(id).await?,
        };
        return out.json(&content);
    }
    out.line(format!(
        "✓ {id} → {} ({}, sha256 verified)",
        downloaded.path.display(),
        render::human_size(downloaded.size)
    ))
}

pub async fn info(client: &Client, out: &Output, id: Uuid) -> anyhow::Result<()> {
    let content = client.info(id).await?;
    if out.json {
        return out.json(&content);
    }
    out.line(render::content_details(&content))
}

pub async fn list(client: &Client, out: &Output, args: ListArgs) -> anyhow::Result<()> {
    let ListArgs { limit, cursor, all } = args;
    let list = if all {
        let items = client.list_all().await?;
        ContentList {
            total: items.len() as u64,
            items,
            next_cursor: None,
        }
    } else {
        client.list(Some(limit), cursor.as_deref()).await?
    };
    if out.json {
        return out.json(&list);
    }
    if list.items.is_empty() {
        out.line("no content")?;
    } else {
        out.line(render::content_table(&list.items))?;
    }
    if let Some(next) = &list.next_cursor {
        // On stderr, so the table on stdout stays a table.
        eprintln!("more objects: cdn ls --cursor {next}  (or --all)");
    }
    Ok(())
}

pub async fn update(
    client: &Client,
    out: &Output,
    id: Uuid,
    file: &Path,
    name: Option<&str>,
) -> anyhow::Result<()> {
    let bar = TransferBar::new(file.display().to_string());
    let content = client.replace_file(id, file, name, bar).await?;
    if out.json {
        return out.json(&content);
    }
    out.line(format!("✓ {}", render::stored_line(&content)))
}

pub async fn rename(client: &Client, out: &Output, id: Uuid, name: &str) -> anyhow::Result<()> {
    let content = client.rename(id, name).await?;
    if out.json {
        return out.json(&content);
    }
    out.line(format!(
        "✓ {id} renamed to {}",
        render::display_name(&content.filename)
    ))
}

/// `DELETE` answers with no body, so `--json` prints nothing.
pub async fn remove(client: &Client, out: &Output, ids: &[Uuid]) -> anyhow::Result<()> {
    let mut failures = 0;
    for &id in ids {
        match client.delete(id).await {
            Ok(()) if out.json => {}
            Ok(()) => out.line(format!("✓ deleted {id}"))?,
            Err(error) if ids.len() == 1 => return Err(error.into()),
            Err(error) => {
                failures += 1;
                eprintln!("error: {id}: {:#}", anyhow::Error::new(error));
            }
        }
    }
    if failures > 0 {
        bail!("{failures} of {} deletions failed", ids.len());
    }
    Ok(())
}

pub async fn nodes(client: &Client, out: &Output) -> anyhow::Result<()> {
    let nodes = client.nodes().await?;
    if out.json {
        return out.json(&nodes);
    }
    if nodes.nodes.is_empty() {
        return out.line("no storage nodes configured");
    }
    out.line(render::node_table(&nodes, chrono::Utc::now()))
}

pub async fn stats(client: &Client, out: &Output) -> anyhow::Result<()> {
    let stats = client.stats().await?;
    if out.json {
        return out.json(&stats);
    }
    out.line(render::stats_table(&stats))
}
