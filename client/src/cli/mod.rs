//! The `cdn` command: arguments, output and one function per subcommand.
//!
//! - this file: the clap definitions, [`Output`] and dispatch ([`run`]);
//! - [`commands`]: what each subcommand does with the library's `Client`;
//! - [`render`]: human-readable text (tables, sizes), pure and tested;
//! - [`bar`]: indicatif progress bars for large transfers on a terminal;
//! - [`demo`]: `cdn demo`, the end-to-end round trip.
//! - [`bench`]: `cdn bench`, one large transfer timed each way.
//! - [`tokens`]: `cdn token …` and `cdn share`; [`credentials`]: where
//!   the token sent is found.
//! - [`keys`]: `cdn key …` (S3 access keys) and `cdn bucket …`.

mod bar;
mod bench;
mod commands;
mod credentials;
mod demo;
mod keys;
mod render;
mod tokens;

use std::fmt::Display;
use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use cdn_client::wire::{DEFAULT_PAGE, MAX_PAGE, Scope, Visibility};
use cdn_client::{Client, DEFAULT_URL};
use clap::{CommandFactory, Parser, Subcommand};
use serde::Serialize;
use uuid::Uuid;

#[derive(Debug, Parser)]
#[command(
    name = "cdn",
    version,
    about = "Upload, download and manage content on a mini CDN",
    long_about = "Upload, download and manage content on a mini CDN.\n\n\
        Every command talks to the distributor at --url (or $CDN_URL). Objects are \
        named by the id printed when they are uploaded; `cdn ls` shows them all.\n\n\
        Writes, listings and private content need a token: $CDN_TOKEN, else the file \
        $CDN_TOKEN_FILE (default ~/.config/cdn/token). Public downloads need none.",
    after_help = "Examples:\n  cdn upload report.pdf photos/*.jpg\n  cdn ls\n  \
        cdn download 0195c0de-… -o copy.pdf\n  cdn --json info 0195c0de-… | jq .replicas"
)]
pub struct Cli {
    /// Base URL of the distributor.
    #[arg(
        long,
        global = true,
        env = "CDN_URL",
        hide_env_values = true,
        default_value = DEFAULT_URL,
        value_name = "URL"
    )]
    url: String,

    /// Print the server's JSON answers (pretty) on stdout instead of text.
    #[arg(long, global = true)]
    json: bool,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Upload files; prints each new object's id and the nodes holding it.
    ///
    /// Each file becomes one object, named after the file unless --name is
    /// given; its content type is guessed from that name. A file that fails
    /// does not stop the others, but makes the command fail. With --json,
    /// prints the new object, or a list of them for several files.
    Upload {
        /// Files to upload.
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
        /// Store the object under this name instead of the file's (one FILE only).
        #[arg(long, value_name = "NAME")]
        name: Option<String>,
        /// Make the objects private: readable with a read token or a link
        /// from `cdn share`.
        #[arg(long)]
        private: bool,
    },

    /// Download an object's bytes to a file, verifying its SHA-256.
    ///
    /// Without -o the file is named after the object and created in the
    /// current directory; only the last component of the stored name is used,
    /// and an existing file is kept unless --force is given. With -o naming a
    /// directory, the object's name is used inside it. The file only appears
    /// once all of its bytes have arrived and matched the checksum.
    Download(DownloadArgs),

    /// Show an object's metadata: size, type, checksum, version and replicas.
    Info {
        /// Id of the object.
        id: Uuid,
    },

    /// List objects, newest first.
    ///
    /// Shows one page of --limit objects; when there are more, says how to
    /// get them. With --all, follows the pages to the end.
    #[command(visible_alias = "list")]
    Ls(ListArgs),

    /// Replace an object's bytes with a file; shows the new version and where it now lives.
    ///
    /// The id stays the same and the version goes up by one. The object keeps
    /// its name and type unless --name is given (the type is then guessed
    /// from the new name).
    Update {
        /// Id of the object.
        id: Uuid,
        /// File with the new bytes.
        file: PathBuf,
        /// Rename the object at the same time.
        #[arg(long, value_name = "NAME")]
        name: Option<String>,
    },

    /// Rename an object; its bytes and version do not change.
    Rename {
        /// Id of the object.
        id: Uuid,
        /// The new name.
        name: String,
    },

    /// Delete objects and every stored copy of them.
    ///
    /// An id that fails does not stop the others, but makes the command fail.
    /// Prints nothing with --json.
    #[command(visible_alias = "delete")]
    Rm {
        /// Ids of the objects.
        #[arg(required = true, value_name = "ID")]
        ids: Vec<Uuid>,
    },

    /// Print a presigned URL of an object's bytes that works without a token until it expires.
    ///
    /// Changing the distributor's SIGNING_KEY invalidates every link made before.
    Share {
        /// Id of the object.
        id: Uuid,
        /// How long the link works: 10m, 1h, 7d (at most 7 days).
        #[arg(long, default_value = "1h", value_name = "DURATION")]
        expires: String,
    },

    /// Create, list and revoke API tokens (needs an admin token).
    #[command(subcommand)]
    Token(TokenCommand),

    /// Create, list and revoke S3 access keys (needs an admin token).
    #[command(subcommand)]
    Key(KeyCommand),

    /// Make an S3 bucket and its objects public or private.
    #[command(subcommand)]
    Bucket(BucketCommand),

    /// Show the storage nodes: status, storage and memory use, last contact.
    Nodes,

    /// Show storage use per node and for the whole cluster.
    Stats,

    /// Run the test-client round trip against the distributor.
    ///
    /// Generates text files in ./client_data/, uploads them, downloads them
    /// into ./tmp/ and compares the bytes, replaces one and downloads it
    /// again, then deletes everything it uploaded and checks that it is gone.
    /// Prints a ✓ line per check and fails on the first mismatch.
    /// Always prints text, even with --json.
    Demo,

    /// Time one large upload and its download through the distributor.
    ///
    /// Sends --size bytes made on the fly (nothing is read from disk),
    /// checks the stored SHA-256, reads the object back counting the bytes,
    /// deletes it and prints the rate each way in MB/s (10^6 bytes per
    /// second). `scripts/bench` runs it as part of the full benchmark.
    Bench {
        /// Bytes to send and read back: 1GiB, 64MiB, 500M …
        #[arg(long, default_value = "1GiB", value_name = "SIZE")]
        size: cdn_common::ByteSize,
        /// Keep the object instead of deleting it.
        #[arg(long)]
        keep: bool,
    },
}

#[derive(Debug, Subcommand)]
enum TokenCommand {
    /// Create a token; prints its secret (shown only this once) on stdout.
    Create {
        /// What the token is for, e.g. the machine or person using it.
        #[arg(long)]
        name: String,
        /// What it allows: read, write or admin (admin implies the others). Repeat for several.
        #[arg(long = "scope", required = true, value_name = "SCOPE", value_parser = parse_scope)]
        scopes: Vec<Scope>,
    },
    /// List every token, revoked ones included; secrets are never shown.
    #[command(visible_alias = "list")]
    Ls,
    /// Revoke tokens; they stop working at once.
    Revoke {
        /// Ids of the tokens (from `cdn token ls`).
        #[arg(required = true, value_name = "ID")]
        ids: Vec<Uuid>,
    },
}

#[derive(Debug, Subcommand)]
enum KeyCommand {
    /// Create an access key for S3 clients; prints its id and secret (shown only this once).
    ///
    /// The text output is two `AWS_…=` lines, ready for `export`; --json
    /// prints `access_key_id` and `secret_access_key` among the rest.
    Create {
        /// What the key is for, e.g. the machine or person using it.
        #[arg(long)]
        name: String,
        /// What it allows, comma-separated: read, write (admin implies both).
        #[arg(
            long,
            alias = "scope",
            value_delimiter = ',',
            default_value = "read,write",
            value_name = "SCOPES",
            value_parser = parse_scope
        )]
        scopes: Vec<Scope>,
    },
    /// List every access key, revoked ones included; secrets are never shown.
    #[command(visible_alias = "list")]
    Ls,
    /// Revoke access keys; S3 refuses them from the next request on.
    Revoke {
        /// Ids of the keys (the ID column of `cdn key ls`, not the access key id).
        #[arg(required = true, value_name = "ID")]
        ids: Vec<Uuid>,
    },
}

#[derive(Debug, Subcommand)]
enum BucketCommand {
    /// Anyone may list the bucket and read its objects, without signing.
    Public {
        /// Name of the bucket.
        name: String,
    },
    /// Only signed requests (or tokens) may list and read it.
    Private {
        /// Name of the bucket.
        name: String,
    },
}

fn parse_scope(text: &str) -> Result<Scope, String> {
    text.parse()
}

#[derive(Debug, clap::Args)]
struct DownloadArgs {
    /// Id of the object.
    id: Uuid,
    /// Where to write the bytes: a file (replaced if it exists) or a directory.
    #[arg(short, long, value_name = "PATH")]
    output: Option<PathBuf>,
    /// Replace an existing file named after the object.
    #[arg(long)]
    force: bool,
}

#[derive(Debug, clap::Args)]
struct ListArgs {
    #[arg(
        long,
        help = format!("Objects per page (1 to {MAX_PAGE})"),
        default_value_t = DEFAULT_PAGE,
        value_parser = clap::value_parser!(u32).range(1..=i64::from(MAX_PAGE))
    )]
    limit: u32,
    /// Start after this point (the cursor printed by a previous page).
    #[arg(long, value_name = "CURSOR", conflicts_with = "all")]
    cursor: Option<String>,
    /// List every object, not just one page.
    #[arg(long)]
    all: bool,
}

/// Where command results go: stdout, as text or as JSON.
pub struct Output {
    json: bool,
}

/// Stdout was closed by its reader (`cdn ls | head`): not worth an error.
#[derive(Debug, thiserror::Error)]
#[error("stdout was closed")]
pub struct StdoutClosed;

impl Output {
    /// Writes text and a newline to stdout.
    fn line(&self, text: impl Display) -> anyhow::Result<()> {
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "{text}").map_err(|error| match error.kind() {
            std::io::ErrorKind::BrokenPipe => anyhow::Error::new(StdoutClosed),
            _ => anyhow::Error::new(error).context("cannot write to stdout"),
        })
    }

    /// Writes a wire type as pretty JSON.
    fn json<T: Serialize>(&self, value: &T) -> anyhow::Result<()> {
        let text = serde_json::to_string_pretty(value).context("cannot encode JSON")?;
        self.line(text)
    }
}

/// Runs the command line `cli` to the end.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let mut client = Client::new(&cli.url)?;
    if let Some(token) = credentials::token()? {
        client = client.with_token(token);
    }
    let out = Output { json: cli.json };
    dispatch(cli.command, &client, &out)
        .await
        .map_err(|error| explain_unreachable(error, &client))
        .map_err(|error| explain_refusal(error, &client))
}

/// A refused credential gets a hint on what to do about it.
fn explain_refusal(error: anyhow::Error, client: &Client) -> anyhow::Error {
    let status = error
        .downcast_ref::<cdn_client::Error>()
        .and_then(cdn_client::Error::status)
        .map(|status| status.as_u16());
    match status {
        Some(401) if client.has_token() => error.context(
            "401: the token was refused (unknown or revoked); check CDN_TOKEN or the token file",
        ),
        Some(401) => {
            let file = credentials::token_file()
                .map(|path| format!(" or put one in {}", path.display()))
                .unwrap_or_default();
            error.context(format!("401: sign in with CDN_TOKEN{file}"))
        }
        Some(403) => error.context(
            "403: the token lacks the scope this needs; an admin can make one with `cdn token create`",
        ),
        _ => error,
    }
}

/// A refused connection is nearly always a wrong URL or a stopped stack, so
/// say where the command looked before reqwest's chain of causes.
fn explain_unreachable(error: anyhow::Error, client: &Client) -> anyhow::Error {
    let unreachable = matches!(
        error.downcast_ref::<cdn_client::Error>(),
        Some(cdn_client::Error::Transport(transport)) if transport.is_connect()
    );
    if unreachable {
        let url = client.base_url();
        error.context(format!(
            "cannot reach the distributor at {url} (set --url or CDN_URL)"
        ))
    } else {
        error
    }
}

async fn dispatch(command: Command, client: &Client, out: &Output) -> anyhow::Result<()> {
    match command {
        Command::Upload {
            files,
            name,
            private,
        } => {
            if name.is_some() && files.len() > 1 {
                Cli::command()
                    .error(
                        clap::error::ErrorKind::ArgumentConflict,
                        "--name can only be used when uploading a single FILE",
                    )
                    .exit();
            }
            let visibility = private.then_some(Visibility::Private);
            commands::upload(client, out, &files, name.as_deref(), visibility).await
        }
        Command::Download(args) => commands::download(client, out, args).await,
        Command::Info { id } => commands::info(client, out, id).await,
        Command::Ls(args) => commands::list(client, out, args).await,
        Command::Update { id, file, name } => {
            commands::update(client, out, id, &file, name.as_deref()).await
        }
        Command::Rename { id, name } => commands::rename(client, out, id, &name).await,
        Command::Rm { ids } => commands::remove(client, out, &ids).await,
        Command::Share { id, expires } => tokens::share(client, out, id, &expires).await,
        Command::Token(command) => tokens::token(client, out, command).await,
        Command::Key(command) => keys::key(client, out, command).await,
        Command::Bucket(command) => keys::bucket(client, out, command).await,
        Command::Nodes => commands::nodes(client, out).await,
        Command::Stats => commands::stats(client, out).await,
        Command::Demo => demo::run(client, out).await,
        Command::Bench { size, keep } => bench::run(client, out, size, keep).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn global_flags_work_after_the_subcommand() {
        let cli =
            Cli::try_parse_from(["cdn", "ls", "--json", "--url", "http://dist:8000"]).unwrap();
        assert!(cli.json);
        assert_eq!(cli.url, "http://dist:8000");
    }

    #[test]
    fn ids_must_be_uuids() {
        assert!(Cli::try_parse_from(["cdn", "info", "not-an-id"]).is_err());
        assert!(
            Cli::try_parse_from(["cdn", "info", "01959d6e-7a4b-7c1e-9a39-1d1e2e3f4a5b"]).is_ok()
        );
    }

    #[test]
    fn list_limit_is_bounded_by_the_server_page() {
        let limit = |value: u32| Cli::try_parse_from(["cdn", "ls", "--limit", &value.to_string()]);
        assert!(limit(0).is_err());
        assert!(limit(MAX_PAGE + 1).is_err());
        assert!(limit(MAX_PAGE).is_ok());
        let Command::Ls(args) = Cli::try_parse_from(["cdn", "ls"]).unwrap().command else {
            panic!("`cdn ls` should parse as Ls");
        };
        assert_eq!(args.limit, DEFAULT_PAGE);
    }

    #[test]
    fn key_scopes_are_comma_separated_and_default_to_read_and_write() {
        let scopes = |args: &[&str]| match Cli::try_parse_from(args).unwrap().command {
            Command::Key(KeyCommand::Create { scopes, .. }) => scopes,
            other => panic!("not a key creation: {other:?}"),
        };
        let given = scopes(&["cdn", "key", "create", "--name", "n", "--scopes", "read"]);
        assert_eq!(given, [Scope::Read]);
        let both = [
            "cdn",
            "key",
            "create",
            "--name",
            "n",
            "--scopes",
            "read,write",
        ];
        assert_eq!(scopes(&both), [Scope::Read, Scope::Write]);
        let default = scopes(&["cdn", "key", "create", "--name", "n"]);
        assert_eq!(default, [Scope::Read, Scope::Write]);
        let bad = ["cdn", "key", "create", "--name", "n", "--scopes", "root"];
        assert!(Cli::try_parse_from(bad).is_err());
    }

    #[test]
    fn upload_and_rm_need_at_least_one_argument() {
        assert!(Cli::try_parse_from(["cdn", "upload"]).is_err());
        assert!(Cli::try_parse_from(["cdn", "rm"]).is_err());
    }
}
