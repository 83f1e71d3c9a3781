//! Secret conversations' cryptography, on the client (issue 14). A device is an Olm account
//! (vodozemac: 3DH and the Double Ratchet, audited; nothing here is home-made); it publishes
//! its identity and one-time keys, signed (the wire forms and their checks are
//! `protocol::secret`), and starts sessions only with devices whose keys were checked. The
//! server only relays: it never holds a private key.
//!
//! Built so far: devices and sessions between them. To come: the encrypted local store,
//! trust and verification, the TUI and CLI.

pub mod device;
