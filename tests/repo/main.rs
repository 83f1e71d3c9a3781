//! Checks of the tree itself: the layers of docs/ARCHITECTURE.md, the sizes it promises and
//! the promised Rust version.
//! One test binary: each file here is a module of it, so the suite links a few binaries,
//! not one per file.

mod architecture;
mod msrv;
mod sizes;
