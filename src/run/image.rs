//! An image for the client: a graph the run wrote, as PNG bytes.

use std::fmt;
use std::path::PathBuf;

use base64::Engine as _;

/// A PNG image ready to send to a client.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Image {
    /// The encoded PNG file.
    pub png: Vec<u8>,
    pub width: u32,
    pub height: u32,
    /// The file it was made from.
    pub source: PathBuf,
}

impl Image {
    /// The PNG as base64, the encoding MCP image content carries.
    pub(crate) fn base64(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(&self.png)
    }
}

impl fmt::Debug for Image {
    // The bytes would flood any debug output; their size says enough.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Image")
            .field("width", &self.width)
            .field("height", &self.height)
            .field("png_bytes", &self.png.len())
            .field("source", &self.source)
            .finish()
    }
}
