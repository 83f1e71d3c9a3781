//! Secret conversations' cryptography, on the client (issue 14). A device is an Olm account
//! (vodozemac: 3DH and the Double Ratchet, audited; nothing here is home-made); it publishes
//! a key bundle signed by its identity, and every bundle the server hands out is checked
//! before a session is started with it. The server only relays: it never holds a private key.
//!
//! Built so far: devices, bundles and their checks, sessions between two devices. To come:
//! the key directory on the server, the wire, the encrypted local store, trust and
//! verification, the TUI and CLI.

pub mod device;
