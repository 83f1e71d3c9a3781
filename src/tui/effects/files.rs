//! Effects on files: sending one from a path (uploaded, then a message that carries it), and
//! saving one to the download folder, opened after if asked.

use super::{Executor, misrouted};
use crate::protocol::files::{FileRef, human_size};
use crate::protocol::{ClientMsgId, ConversationId, RequestBody, requests, results};
use crate::session::Session;
use crate::tui::state::{Done, Effect};
use crate::untrusted::inert_line;
use std::path::PathBuf;

impl Executor {
    pub(super) fn files(&self, effect: Effect) {
        let (session, done) = (self.session.clone(), self.done.clone());
        match effect {
            Effect::SendFile {
                conversation_id,
                path,
                caption,
            } => {
                tokio::spawn(async move {
                    let outcome = send_file(&session, conversation_id, &path, caption).await;
                    let _ = done.send(Done::FileSent(outcome)).await;
                });
            }
            Effect::SaveFile { file, open } => {
                tokio::spawn(async move {
                    let outcome = save_file(&session, &file, open).await;
                    let _ = done.send(Done::FileSaved(outcome)).await;
                });
            }
            other => misrouted(&other),
        }
    }
}

/// `~` and `~/...` as the home folder; any other path as it is.
fn expand_home(path: &str) -> PathBuf {
    let home = directories::BaseDirs::new().map(|dirs| dirs.home_dir().to_owned());
    match (path.strip_prefix('~'), home) {
        (Some(""), Some(home)) => home,
        (Some(rest), Some(home)) if rest.starts_with('/') => home.join(&rest[1..]),
        _ => PathBuf::from(path),
    }
}

async fn send_file(
    session: &Session,
    conversation_id: ConversationId,
    path: &str,
    caption: String,
) -> Result<String, String> {
    let local = expand_home(path);
    let shown = inert_line(path);
    match std::fs::metadata(&local) {
        Ok(metadata) if metadata.is_file() => {}
        Ok(_) => return Err(format!("{shown} is not a file")),
        Err(error) => return Err(format!("cannot send {shown}: {error}")),
    }
    let files = session.files().await.map_err(|e| e.to_string())?;
    let file = files
        .upload(&local, &mut |_, _| {})
        .await
        .map_err(|e| format!("cannot send {shown}: {}", inert_line(&e.to_string())))?;
    let body = RequestBody::Send(requests::Send {
        conversation_id,
        client_id: ClientMsgId::random(),
        text: caption,
        reply_to: None,
        file: Some(file.id.clone()),
    });
    session
        .request::<results::Sent>(body)
        .await
        .map_err(|e| format!("{shown} was uploaded but not sent: {e}"))?;
    Ok(format!(
        "sent {} ({})",
        inert_line(&file.name),
        human_size(file.size)
    ))
}

/// The download folder: the user's own (XDG), else `~/Downloads`, made if missing.
fn download_folder() -> Result<PathBuf, String> {
    let folder = directories::UserDirs::new()
        .and_then(|dirs| dirs.download_dir().map(|d| d.to_owned()))
        .or_else(|| directories::BaseDirs::new().map(|d| d.home_dir().join("Downloads")))
        .ok_or("no home folder to save downloads in")?;
    std::fs::create_dir_all(&folder)
        .map_err(|e| format!("cannot make {}: {e}", folder.display()))?;
    Ok(folder)
}

async fn save_file(session: &Session, file: &FileRef, open: bool) -> Result<String, String> {
    let folder = download_folder()?;
    let files = session.files().await.map_err(|e| e.to_string())?;
    let saved = files
        .download(file, &folder, None, &mut |_, _| {})
        .await
        .map_err(|e| format!("cannot save {}: {}", inert_line(&file.name), e))?;
    let shown = inert_line(&saved.display().to_string());
    Ok(match open && crate::browser::open_file(&saved) {
        true => format!("saved to {shown} and opened"),
        false if open => format!("saved to {shown} (nothing here can open it)"),
        false => format!("saved to {shown}"),
    })
}
