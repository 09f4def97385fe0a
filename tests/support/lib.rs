//! Test kit shared by the end-to-end tests and `cargo xtask`: a simulated Microsoft Graph
//! on 127.0.0.1, a Webdesk SQLite database to seed and inspect, and the real `photo-sync`
//! binary.

pub mod binary;
pub mod graph_sim;
pub mod postgres;
pub mod webdesk;

pub use binary::{PhotoSync, RunOutput};
pub use graph_sim::{GraphSim, SimUser};
pub use webdesk::{Backend, ImageRow, StateRow, TestDatabase};

use std::path::PathBuf;

/// The fixture photos that must be stored as they are (the other fixtures are broken).
pub const VALID_PHOTOS: [&str; 8] = [
    "grace-hopper.jpg",
    "eileen-collins.png",
    "eileen-collins-648.jpg",
    "grace-hopper-48.jpg",
    "grace-hopper-progressive.jpg",
    "grace-hopper-cmyk.jpg",
    "grace-hopper-exif-rotated.jpg",
    "eileen-collins-alpha.png",
];

/// The folder with the fixture photos of this repository.
pub fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/photos")
}

/// Reads one fixture photo by file name, panicking with the path if it is missing.
pub fn fixture(name: &str) -> Vec<u8> {
    let path = fixtures_dir().join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read fixture {}: {e}", path.display()))
}
