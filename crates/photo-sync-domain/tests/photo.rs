//! Photo validation against the real fixture photos: every valid encoding is accepted
//! as it is, every broken file is rejected with a reason.

use std::path::PathBuf;

use photo_sync_domain::{PhotoError, PhotoFormat, ValidPhoto};

fn fixture(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/photos").join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read fixture {}: {e}", path.display()))
}

#[test]
fn valid_fixtures_are_accepted_unchanged() {
    let cases = [
        ("grace-hopper.jpg", PhotoFormat::Jpeg, 512, 600),
        ("eileen-collins.png", PhotoFormat::Png, 512, 512),
        ("eileen-collins-648.jpg", PhotoFormat::Jpeg, 648, 648),
        ("grace-hopper-48.jpg", PhotoFormat::Jpeg, 48, 48),
        ("grace-hopper-progressive.jpg", PhotoFormat::Jpeg, 512, 600),
        ("grace-hopper-cmyk.jpg", PhotoFormat::Jpeg, 512, 600),
        ("eileen-collins-alpha.png", PhotoFormat::Png, 512, 512),
    ];
    for (name, format, width, height) in cases {
        let bytes = fixture(name);
        let photo = ValidPhoto::from_bytes(bytes.clone()).unwrap_or_else(|e| panic!("{name} rejected: {e}"));
        assert_eq!(photo.format(), format, "{name}");
        assert_eq!((photo.width(), photo.height()), (width, height), "{name}");
        assert_eq!(photo.bytes(), bytes.as_slice(), "{name} must be stored byte for byte");
    }
}

#[test]
fn exif_rotated_jpeg_is_accepted() {
    // The pixels are stored rotated; the file is kept as it is so Webdesk applies the
    // EXIF orientation itself.
    let photo = ValidPhoto::from_bytes(fixture("grace-hopper-exif-rotated.jpg")).expect("valid JPEG");
    assert_eq!(photo.format(), PhotoFormat::Jpeg);
}

#[test]
fn empty_file_is_rejected() {
    assert_eq!(ValidPhoto::from_bytes(fixture("empty.jpg")), Err(PhotoError::Empty));
}

#[test]
fn truncated_jpeg_is_rejected() {
    let error = ValidPhoto::from_bytes(fixture("truncated.jpg")).expect_err("truncated");
    insta::assert_snapshot!(error.to_string(), @"the image/jpeg photo cannot be decoded (43044 bytes): the end-of-image marker is missing, so the file is truncated");
}

#[test]
fn html_page_is_rejected() {
    let error = ValidPhoto::from_bytes(fixture("html-error-page.jpg")).expect_err("HTML");
    insta::assert_snapshot!(error.to_string(), @r#"the photo is not a JPEG or PNG image (124 bytes starting with "<!DOCTYPE html><")"#);
}

#[test]
fn truncated_png_is_rejected() {
    let mut bytes = fixture("eileen-collins.png");
    bytes.truncate(bytes.len() / 2);
    let error = ValidPhoto::from_bytes(bytes).expect_err("truncated PNG");
    assert!(matches!(error, PhotoError::Undecodable { format: "image/png", .. }), "{error}");
}

#[test]
fn jpeg_with_corrupt_scan_but_eoi_is_rejected() {
    // Cutting the middle out and keeping the end marker defeats the EOI check, so only
    // a full decode can catch it.
    let bytes = fixture("grace-hopper.jpg");
    let mut broken = bytes[..600].to_vec();
    broken.extend_from_slice(&[0xFF, 0xD9]);
    assert!(ValidPhoto::from_bytes(broken).is_err());
}

#[test]
fn gif_is_rejected() {
    let gif = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;".to_vec();
    let error = ValidPhoto::from_bytes(gif).expect_err("GIF");
    assert!(matches!(error, PhotoError::UnsupportedFormat { .. }), "{error}");
}
