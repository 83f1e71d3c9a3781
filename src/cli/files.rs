//! `quid send --file` and `quid download`: files up and down over HTTP on the server's port
//! (`session::files`), with a progress bar on a terminal and none when the output is piped.

use super::chat::describe_file;
use crate::config::Profile;
use crate::protocol::files::FileRef;
use crate::protocol::requests;
use crate::protocol::{ClientMsgId, MessageId, RequestBody, results};
use crate::session::files::{FileError, Files};
use anyhow::{Context, anyhow, bail};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// A progress bar on stderr when it is a terminal; nothing otherwise.
fn progress_bar(what: &str, size: u64) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(size);
    let style =
        ProgressStyle::with_template("{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
    bar.set_style(style);
    bar.set_message(what.to_owned());
    bar
}

/// The profile's files, as its session's user.
fn files_of(profile: &Profile) -> anyhow::Result<Files> {
    let token = super::chat::token(profile)?;
    Ok(Files::new(
        &profile.server,
        &token,
        profile.ca_file.as_deref(),
    )?)
}

/// Refuses, before anything is sent, a path that is not a readable file.
fn check_files(paths: &[PathBuf]) -> anyhow::Result<()> {
    for path in paths {
        let metadata =
            std::fs::metadata(path).with_context(|| format!("cannot send {}", path.display()))?;
        if !metadata.is_file() {
            bail!("cannot send {}: it is not a file", path.display());
        }
    }
    Ok(())
}

/// Uploads each file and sends it to `target`, one message each; `caption` goes with the
/// first.
pub async fn send(
    profile: &Profile,
    target: &str,
    caption: &str,
    reply_to: Option<MessageId>,
    paths: &[PathBuf],
) -> anyhow::Result<ExitCode> {
    check_files(paths)?;
    let target = super::chat::parse_target(target)?;
    let connection = super::chat::connect(profile).await?;
    let conversation_id = target
        .resolve(&connection)
        .await
        .with_context(|| target.to_string())?;
    let files = files_of(profile)?;
    let shown_target = crate::untrusted::inert_line(&target.to_string());
    for (n, path) in paths.iter().enumerate() {
        let file = upload(&files, path).await?;
        let sent: results::Sent = connection
            .request(RequestBody::Send(requests::Send {
                conversation_id,
                client_id: ClientMsgId::random(),
                text: if n == 0 {
                    caption.to_owned()
                } else {
                    String::new()
                },
                reply_to: if n == 0 { reply_to } else { None },
                file: Some(file.id.clone()),
            }))
            .await
            .with_context(|| format!("{} was uploaded but not sent", path.display()))?;
        say!(
            "sent {} to {shown_target} (message {})",
            describe_file(&file),
            sent.message.id
        );
    }
    Ok(ExitCode::SUCCESS)
}

async fn upload(files: &Files, path: &Path) -> anyhow::Result<FileRef> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let bar = progress_bar(&name, 0);
    let uploaded = files
        .upload(path, &mut |done, size| {
            bar.set_length(size);
            bar.set_position(done);
        })
        .await;
    bar.finish_and_clear();
    uploaded.map_err(|error| explain(error, &format!("cannot send {}", path.display())))
}

/// A file error in words: the server's own message for a refusal.
fn explain(error: FileError, doing: &str) -> anyhow::Error {
    match error {
        FileError::Refused(api) => anyhow!(
            "{doing}: {} ({})",
            crate::untrusted::inert_line(&api.message),
            api.code
        ),
        other => anyhow!(
            "{doing}: {}",
            crate::untrusted::inert_line(&other.to_string())
        ),
    }
}

/// `quid download ID [-o PATH]`: saves the file message `id` carries, into the current
/// folder under its own name (never replacing a file: `bill (1).jpg`), into the folder `-o`
/// names, or as the file `-o` names, which must not exist yet.
pub async fn download(
    profile: &Profile,
    id: MessageId,
    output: Option<&Path>,
) -> anyhow::Result<ExitCode> {
    let connection = super::chat::connect(profile).await?;
    let found: results::OneMessage = connection
        .request(RequestBody::GetMessage(requests::GetMessage {
            message_id: id,
        }))
        .await
        .with_context(|| format!("message {id}"))?;
    let Some(file) = found.message.file else {
        bail!("message {id} carries no file");
    };
    let (folder, exactly) = destination(output)?;
    let bar = progress_bar(&crate::untrusted::inert_line(&file.name), file.size);
    let saved = files_of(profile)?
        .download(&file, &folder, exactly.as_deref(), &mut |done, _| {
            bar.set_position(done)
        })
        .await;
    bar.finish_and_clear();
    let saved = saved.map_err(|error| explain(error, &format!("cannot download message {id}")))?;
    say!("saved {} as {}", describe_file(&file), saved.display());
    Ok(ExitCode::SUCCESS)
}

/// The folder a download is written in, and the exact path when `-o` names a file.
fn destination(output: Option<&Path>) -> anyhow::Result<(PathBuf, Option<PathBuf>)> {
    let here = || std::env::current_dir().context("cannot tell the current folder");
    match output {
        None => Ok((here()?, None)),
        Some(path) if path.is_dir() => Ok((path.to_owned(), None)),
        Some(path) if path.exists() => {
            bail!(
                "{} exists; quid does not replace it (remove it, or name another)",
                path.display()
            )
        }
        Some(path) => {
            let folder = match path.parent() {
                Some(parent) if !parent.as_os_str().is_empty() => parent.to_owned(),
                _ => here()?,
            };
            if !folder.is_dir() {
                bail!(
                    "cannot save to {}: {} is not a folder",
                    path.display(),
                    folder.display()
                );
            }
            Ok((folder, Some(path.to_owned())))
        }
    }
}
