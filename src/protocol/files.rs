//! Files in the chat: what a message says of the file it carries, what an upload is, and the
//! rules for names and media types that both sides apply. The bytes themselves travel over
//! HTTP on the server's port, never in a frame (docs/PROTOCOL.md, "Files").

use super::{ApiError, ErrorCode};
use serde::{Deserialize, Serialize};

/// Where uploads begin (`POST`); `/v1/files/ID` is a file, `/v1/files/uploads/ID` an upload.
pub const FILES_PATH: &str = "/v1/files";

/// The largest file a server takes unless told otherwise (`quid serve --max-file-bytes`).
pub const DEFAULT_MAX_FILE_BYTES: u64 = 25 * 1024 * 1024;

/// The bytes a server keeps for one user's files and unfinished uploads unless told
/// otherwise (`quid serve --file-quota-bytes`).
pub const DEFAULT_QUOTA_BYTES: u64 = 1024 * 1024 * 1024;

/// Longest file name kept, in characters; longer ones are cut.
pub const MAX_NAME_CHARS: usize = 255;

/// Longest media type accepted (`type/subtype`).
pub const MAX_MEDIA_TYPE_CHARS: usize = 127;

/// The name a file gets when nothing of the one given is left after cleaning.
pub const UNNAMED: &str = "file";

/// A stored file: 128 random bits as 32 lowercase hex digits, so that one cannot be guessed
/// from another (who may download it is checked all the same).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct FileId(pub String);

/// An upload under way, named as a file is.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct UploadId(pub String);

fn random_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// `text`, if it has the form of an id (32 lowercase hex digits); else an error naming `what`
/// it was to be.
fn parse_id(text: &str, what: &str) -> Result<String, ApiError> {
    let hex = |b: u8| matches!(b, b'0'..=b'9' | b'a'..=b'f');
    match text.len() == 32 && text.bytes().all(hex) {
        true => Ok(text.to_owned()),
        false => Err(ApiError::invalid(format!(
            "{text:?} is not {what} id (32 lowercase hex digits)"
        ))),
    }
}

impl FileId {
    pub fn random() -> FileId {
        FileId(random_id())
    }

    /// `text` as a file id, or an error that says what one looks like.
    pub fn parse(text: &str) -> Result<FileId, ApiError> {
        parse_id(text, "a file").map(FileId)
    }
}

impl UploadId {
    pub fn random() -> UploadId {
        UploadId(random_id())
    }

    /// `text` as an upload id, or an error that says what one looks like.
    pub fn parse(text: &str) -> Result<UploadId, ApiError> {
        parse_id(text, "an upload").map(UploadId)
    }
}

impl std::fmt::Display for FileId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::fmt::Display for UploadId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A file as a message carries it: everything a client shows before downloading it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileRef {
    pub id: FileId,
    /// Cleaned by the server ([`clean_name`]); still shown inert, as every string from it.
    pub name: String,
    pub size: u64,
    /// As the uploader claimed it; a download is served as an attachment whatever it says.
    pub media_type: String,
    /// Lowercase hex SHA-256 of the bytes, so a download can be checked.
    pub sha256: String,
}

/// `POST /v1/files`: the upload to begin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewUpload {
    pub name: String,
    pub size: u64,
    pub media_type: String,
}

/// Where an upload stands: the bytes the server holds of it, from the start.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadState {
    pub upload: UploadId,
    pub size: u64,
    pub received: u64,
}

/// The answer to the request that completed an upload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Uploaded {
    pub file: FileRef,
}

/// Whether `c` may not be shown in a name: controls, and the marks that reorder text
/// (a name like `gpj.exe` written right to left would read `exe.jpg`).
fn unshowable(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200e}' | '\u{200f}' | '\u{061c}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// The name a file is kept and shown under: the last part of any path (`../../etc/passwd` is
/// `passwd`), without controls or direction marks, leading dots or surrounding spaces, at
/// most [`MAX_NAME_CHARS`] characters; [`UNNAMED`] if nothing is left.
pub fn clean_name(name: &str) -> String {
    let last = name.rsplit(['/', '\\']).next().unwrap_or_default();
    let shown: String = last.chars().filter(|&c| !unshowable(c)).collect();
    let cut: String = shown
        .trim()
        .trim_start_matches('.')
        .chars()
        .take(MAX_NAME_CHARS)
        .collect();
    match cut.trim() {
        "" => UNNAMED.to_owned(),
        kept => kept.to_owned(),
    }
}

/// `media_type` as kept: `type/subtype` in lower case, parameters dropped; an error that says
/// what was wrong with anything else.
pub fn check_media_type(media_type: &str) -> Result<String, ApiError> {
    let essence = media_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    let token = |part: &str| {
        !part.is_empty()
            && part
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$&^_.+-".contains(&b))
    };
    let well_formed = essence.len() <= MAX_MEDIA_TYPE_CHARS
        && essence
            .split_once('/')
            .is_some_and(|(kind, sub)| token(kind) && token(sub));
    match well_formed {
        true => Ok(essence),
        false => Err(ApiError::invalid(format!(
            "media_type {media_type:?} is not a type/subtype such as image/png"
        ))),
    }
}

/// Refuses a file over `max_bytes`, saying what the limit is.
pub fn check_size(size: u64, max_bytes: u64) -> Result<(), ApiError> {
    if size > max_bytes {
        return Err(ApiError::new(
            ErrorCode::FileTooLarge,
            format!(
                "the file is {}; this server takes files up to {}",
                human_size(size),
                human_size(max_bytes)
            ),
        ));
    }
    Ok(())
}

/// A size as people read it: `512 B`, `210 KB`, `4.2 MB` (powers of 1,000, as file managers
/// show them).
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KB", "MB", "GB", "TB"];
    if bytes < 1000 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1000.0;
    let mut unit = 0;
    while value >= 1000.0 && unit < UNITS.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    match value < 10.0 {
        true => format!("{value:.1} {}", UNITS[unit]),
        false => format!("{value:.0} {}", UNITS[unit]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_keeps_no_path_control_or_direction_mark() {
        assert_eq!(clean_name("../../etc/passwd"), "passwd");
        assert_eq!(clean_name("C:\\Users\\me\\bill.jpg"), "bill.jpg");
        assert_eq!(
            clean_name("\u{1b}]0;owned\u{7}bill.jpg"),
            "]0;ownedbill.jpg"
        );
        assert_eq!(clean_name("photo\u{202e}gpj.exe"), "photogpj.exe");
        assert_eq!(clean_name("  .bashrc "), "bashrc");
        assert_eq!(clean_name(".."), UNNAMED);
        assert_eq!(clean_name("dir/"), UNNAMED);
        assert_eq!(clean_name(&"é".repeat(300)).chars().count(), MAX_NAME_CHARS);
    }

    #[test]
    fn media_types_are_kept_plain_and_nonsense_refused() {
        assert_eq!(check_media_type("Image/PNG").unwrap(), "image/png");
        assert_eq!(
            check_media_type("text/html; charset=utf-8").unwrap(),
            "text/html"
        );
        for bad in [
            "",
            "png",
            "image/",
            "/png",
            "image/png\r\nX-Evil: 1",
            "a b/c",
        ] {
            let refused = check_media_type(bad).unwrap_err();
            assert_eq!(refused.code, ErrorCode::InvalidArgument, "{bad:?}");
        }
    }

    #[test]
    fn ids_are_32_lowercase_hex_digits() {
        let id = FileId::random();
        assert_eq!(FileId::parse(&id.0).unwrap(), id);
        assert!(FileId::parse("../x").is_err());
        assert!(UploadId::parse(&id.0.to_uppercase()).is_err());
    }

    #[test]
    fn sizes_read_as_people_read_them() {
        assert_eq!(human_size(512), "512 B");
        assert_eq!(human_size(210_000), "210 KB");
        assert_eq!(human_size(4_200_000), "4.2 MB");
        assert_eq!(human_size(25 * 1024 * 1024), "26 MB");
        let refused = check_size(26_000_000, 25_000_000).unwrap_err();
        assert_eq!(refused.code, ErrorCode::FileTooLarge);
        assert!(
            refused.message.contains("up to 25 MB"),
            "{}",
            refused.message
        );
    }
}
