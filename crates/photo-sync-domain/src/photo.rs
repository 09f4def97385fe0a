//! Photo bytes that are safe to store: a decodable JPEG or PNG, with the type taken from
//! the bytes themselves, never from a header someone sent along.

use std::fmt;
use std::io::Cursor;

use image::{ImageFormat, ImageReader};

/// The change marker Graph hands out with a photo. It changes on every upload, even of
/// the same picture, and is the only change signal Graph offers for photos.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ETag(String);

impl ETag {
    /// Wraps a non-empty ETag as Graph sent it, quotes included. An empty ETag gives `None`,
    /// because Graph sends one with its placeholder for a missing photo.
    pub fn new(value: impl Into<String>) -> Option<Self> {
        let value = value.into();
        if value.trim().is_empty() { None } else { Some(Self(value)) }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ETag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The image types Webdesk can show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PhotoFormat {
    Jpeg,
    Png,
}

impl PhotoFormat {
    /// Returns the value stored in `person_images.content_type`.
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Jpeg => "image/jpeg",
            Self::Png => "image/png",
        }
    }
}

/// Reason bytes were rejected as a photo.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PhotoError {
    #[error("the photo is empty (0 bytes)")]
    Empty,
    #[error("the photo is not a JPEG or PNG image ({len} bytes starting with {start:?})")]
    UnsupportedFormat { len: usize, start: String },
    #[error("the {format} photo cannot be decoded ({len} bytes): {reason}")]
    Undecodable { format: &'static str, len: usize, reason: String },
}

/// A JPEG or PNG that decoded completely. Only this type can be stored, so a broken
/// image can never reach `person_images`.
#[derive(Clone, PartialEq, Eq)]
pub struct ValidPhoto {
    bytes: Vec<u8>,
    format: PhotoFormat,
    width: u32,
    height: u32,
}

impl fmt::Debug for ValidPhoto {
    // The bytes are left out: a photo is personal data and would flood any log.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ValidPhoto")
            .field("format", &self.format)
            .field("len", &self.bytes.len())
            .field("width", &self.width)
            .field("height", &self.height)
            .finish()
    }
}

impl ValidPhoto {
    /// Checks that `bytes` are a JPEG or PNG that decodes to the last pixel.
    ///
    /// The whole image is decoded because a truncated file still has a valid header.
    /// JPEG decoders may fill the missing rows of a cut-off file with grey instead of
    /// failing, so a JPEG must also end with its end-of-image marker.
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Self, PhotoError> {
        if bytes.is_empty() {
            return Err(PhotoError::Empty);
        }

        let format = match image::guess_format(&bytes) {
            Ok(ImageFormat::Jpeg) => PhotoFormat::Jpeg,
            Ok(ImageFormat::Png) => PhotoFormat::Png,
            _ => return Err(PhotoError::UnsupportedFormat { len: bytes.len(), start: printable_start(&bytes) }),
        };
        let undecodable =
            |reason: String| PhotoError::Undecodable { format: format.content_type(), len: bytes.len(), reason };

        if format == PhotoFormat::Jpeg && !ends_with_jpeg_eoi(&bytes) {
            return Err(undecodable("the end-of-image marker is missing, so the file is truncated".to_owned()));
        }

        let image_format = match format {
            PhotoFormat::Jpeg => ImageFormat::Jpeg,
            PhotoFormat::Png => ImageFormat::Png,
        };
        let mut reader = ImageReader::with_format(Cursor::new(&bytes), image_format);
        reader.no_limits();
        let decoded = reader.decode().map_err(|e| undecodable(e.to_string()))?;

        Ok(Self { width: decoded.width(), height: decoded.height(), bytes, format })
    }

    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }

    pub fn format(&self) -> PhotoFormat {
        self.format
    }

    pub fn width(&self) -> u32 {
        self.width
    }

    pub fn height(&self) -> u32 {
        self.height
    }

    /// Returns whether this is Graph's 1x1 placeholder for a user without a photo.
    pub fn is_placeholder(&self) -> bool {
        self.width <= 1 && self.height <= 1
    }
}

/// Checks whether the JPEG ends with the EOI marker `FF D9`, allowing trailing zero padding that
/// some encoders append.
fn ends_with_jpeg_eoi(bytes: &[u8]) -> bool {
    let end = bytes.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
    bytes[..end].ends_with(&[0xFF, 0xD9])
}

/// Renders the first bytes as text where printable, so an error shows "<!DOCTYPE html" rather
/// than a byte dump.
fn printable_start(bytes: &[u8]) -> String {
    bytes.iter().take(16).map(|&b| if b.is_ascii_graphic() || b == b' ' { char::from(b) } else { '.' }).collect()
}
