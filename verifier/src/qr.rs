//! QR codes for payloads: rendering (PNG, SVG, terminal) and reading from PNG/JPEG images.
//!
//! A QR code carries the binary payload in byte mode (see [`crate::payload`] for why), at error
//! correction level M (15% of the code may be damaged) and at most version 10 (57×57 modules), small
//! enough to scan from a phone screen.

use crate::payload::{Payload, PayloadError};
use image::{ImageFormat, ImageReader, Limits, Luma};
use qrcode::{render::svg, render::unicode, EcLevel, QrCode, Version};
use std::io::Cursor;

/// The largest QR version a health code may need.
pub const MAX_VERSION: i16 = 10;
/// Error correction level of every health-code QR code.
pub const EC_LEVEL: EcLevel = EcLevel::M;
/// Pixels per module in PNG renderings (a 57-module code with its quiet zone is 520 px wide).
pub const PNG_MODULE_PIXELS: u32 = 8;
/// Largest image side accepted when reading: larger inputs are refused before decoding.
pub const MAX_IMAGE_SIDE: u32 = 8192;
/// How long finding the QR code in one image may take. A health code's own PNG reads in
/// milliseconds; an image tiled with finder patterns makes the detector try every grouping of them
/// (a 4.5 kB picture took 78 CPU seconds), and a checkpoint must not be held up by one.
pub const READ_DEADLINE: std::time::Duration = std::time::Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum QrError {
    #[error("payload does not fit a QR code: {0}")]
    Encode(String),
    #[error("payload needs QR version {0}, above the maximum {MAX_VERSION}")]
    TooLarge(i16),
    #[error("cannot encode the payload: {0}")]
    Payload(#[from] PayloadError),
    #[error("cannot read the image: {0}")]
    Image(String),
    #[error("no QR code found in the image")]
    NotFound,
    #[error("QR code found but unreadable: {0}")]
    Unreadable(String),
    #[error("gave up reading the image after {} s: it is not a plain QR code", READ_DEADLINE.as_secs())]
    TooSlow,
}

/// A rendered health code.
pub struct HealthQr {
    code: QrCode,
}

impl HealthQr {
    /// Encodes the payload's bytes, refusing anything above version [`MAX_VERSION`].
    pub fn new(payload: &Payload) -> Result<Self, QrError> {
        let bytes = payload.encode()?;
        let code = QrCode::with_error_correction_level(&bytes, EC_LEVEL)
            .map_err(|e| QrError::Encode(e.to_string()))?;
        match code.version() {
            Version::Normal(v) if v <= MAX_VERSION => Ok(Self { code }),
            Version::Normal(v) => Err(QrError::TooLarge(v)),
            Version::Micro(_) => Err(QrError::Encode("unexpected micro QR".into())),
        }
    }

    /// QR version (1–10).
    pub fn version(&self) -> i16 {
        match self.code.version() {
            Version::Normal(v) | Version::Micro(v) => v,
        }
    }

    /// Modules per side, without the quiet zone.
    pub fn width(&self) -> usize {
        self.code.width()
    }

    /// A PNG image, black on white with a 4-module quiet zone.
    pub fn to_png(&self) -> Vec<u8> {
        let img =
            self.code.render::<Luma<u8>>().module_dimensions(PNG_MODULE_PIXELS, PNG_MODULE_PIXELS).build();
        let mut out = Cursor::new(Vec::new());
        img.write_to(&mut out, ImageFormat::Png).expect("encoding a PNG into memory cannot fail");
        out.into_inner()
    }

    /// An SVG document.
    pub fn to_svg(&self) -> String {
        self.code.render::<svg::Color<'_>>().min_dimensions(300, 300).build()
    }

    /// Unicode half blocks for a terminal, two modules per character cell. Dark modules are blank
    /// cells and light ones (quiet zone included) are blocks in the text colour: right way round
    /// on the usual light-on-dark terminal, where inverted codes would not scan everywhere.
    pub fn to_terminal(&self) -> String {
        self.code
            .render::<unicode::Dense1x2>()
            .dark_color(unicode::Dense1x2::Light)
            .light_color(unicode::Dense1x2::Dark)
            .build()
    }
}

/// Reads every QR code in a PNG or JPEG image and returns the raw bytes of the first readable one
/// (byte-exact: `decode_to`, not a UTF-8 string, since the payload is binary).
pub fn read_image(image_bytes: &[u8]) -> Result<Vec<u8>, QrError> {
    let mut reader = ImageReader::new(Cursor::new(image_bytes))
        .with_guessed_format()
        .map_err(|e| QrError::Image(e.to_string()))?;
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_IMAGE_SIDE);
    limits.max_image_height = Some(MAX_IMAGE_SIDE);
    reader.limits(limits);
    let grey = reader.decode().map_err(|e| QrError::Image(e.to_string()))?.to_luma8();
    // The detector runs on a worker so that the caller can stop waiting at the deadline; a worker
    // still busy with a hostile image is abandoned (it ends with the process, or when done).
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("qr-detect".into())
        .spawn(move || {
            let _ = tx.send(detect_and_decode(grey));
        })
        .map_err(|e| QrError::Image(format!("cannot start the QR reader: {e}")))?;
    rx.recv_timeout(READ_DEADLINE).unwrap_or(Err(QrError::TooSlow))
}

fn detect_and_decode(grey: image::GrayImage) -> Result<Vec<u8>, QrError> {
    // rqrr parses attacker-supplied pixels; a bug there must not take the checkpoint down.
    std::panic::catch_unwind(move || {
        let mut prepared = rqrr::PreparedImage::prepare(grey);
        let grids = prepared.detect_grids();
        if grids.is_empty() {
            return Err(QrError::NotFound);
        }
        let mut last = None;
        for grid in grids {
            let mut out = Vec::new();
            match grid.decode_to(&mut out) {
                Ok(_) => return Ok(out),
                Err(e) => last = Some(e.to_string()),
            }
        }
        Err(QrError::Unreadable(last.unwrap_or_default()))
    })
    .unwrap_or_else(|_| Err(QrError::Unreadable("the QR decoder failed on this image".into())))
}

/// Reads a payload from a PNG or JPEG image.
pub fn decode_image(image_bytes: &[u8]) -> Result<Payload, QrError> {
    Ok(Payload::decode_any(&read_image(image_bytes)?)?)
}
