//! Secret conversations' cryptography, on the client (issue 14). A device is an Olm account
//! (vodozemac: 3DH and the Double Ratchet, audited; nothing here is home-made); it publishes
//! its identity and one-time keys, signed (the wire forms and their checks are
//! `protocol::secret`), and starts sessions only with devices whose keys were checked. The
//! server only relays: it never holds a private key.
//!
//! `vault` keeps a profile's secrets on disk, encrypted; `endpoint` is one end of secret
//! conversations on it: keys to publish, sessions and sealing, with `reading` (opening what
//! arrives), `pins` (whose devices are trusted) and `opened` (what was read); `store` is the
//! endpoint's SQL beneath them; `outbox` holds what was written in a secret conversation
//! while offline.

pub mod device;
pub mod endpoint;
mod error;
pub mod message;
mod opened;
pub mod outbox;
mod pins;
pub mod reading;
mod store;
pub mod vault;
pub mod verify;

pub use error::SecretError;
