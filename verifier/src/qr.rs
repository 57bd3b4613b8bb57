//! QR codes for payloads: rendering (PNG, SVG, terminal) and reading from PNG/JPEG images.
//!
//! A QR code carries the binary payload in byte mode (see [`crate::payload`] for why), at error
//! correction level M (15% of the code may be damaged) and at most version 10 (57×57 modules), small
//! enough to scan from a phone screen.

use crate::payload::{Payload, PayloadError};
use healthcode_circuits::policy::Colour;
use image::{ImageFormat, ImageReader, Limits, Luma, Rgb, RgbImage};
use qrcode::{render::svg, render::unicode, EcLevel, QrCode, Version};
use std::io::Cursor;

/// The largest QR version a health code may need.
pub const MAX_VERSION: i16 = 10;
/// Error correction level of every health-code QR code.
pub const EC_LEVEL: EcLevel = EcLevel::M;
/// Pixels per module in PNG renderings (a 57-module code with its quiet zone is 520 px wide).
pub const PNG_MODULE_PIXELS: u32 = 8;
/// Modules of white around the code (the QR standard's quiet zone).
const QUIET_ZONE: u32 = 4;
/// The coloured frame around the quiet zone, in pixels.
const FRAME_PIXELS: u32 = 24;
/// Glyph cells are 8×8; the colour's name is drawn at 6×, the time at 3×.
const GLYPH: u32 = 8;
const NAME_SCALE: u32 = 6;
const CAPTION_SCALE: u32 = 3;
const TEXT_GAP: u32 = 16;
const WHITE: [u8; 3] = [255, 255, 255];

/// How a colour is drawn: its bright tone (frame and band), the dark shade of the modules (dark
/// enough to read as black to a QR reader), the text colour on the band, and its name.
struct Style {
    bright: [u8; 3],
    dark: [u8; 3],
    text: [u8; 3],
    name: &'static str,
}

impl Style {
    fn of(colour: Colour) -> Self {
        match colour {
            Colour::Green => {
                Style { bright: [0x1e, 0x9e, 0x4a], dark: [0x06, 0x4d, 0x21], text: WHITE, name: "GREEN" }
            }
            Colour::Yellow => Style {
                bright: [0xf5, 0xc8, 0x00],
                dark: [0x5c, 0x45, 0x00],
                text: [0, 0, 0],
                name: "YELLOW",
            },
            Colour::Red => {
                Style { bright: [0xd6, 0x28, 0x28], dark: [0x7a, 0x0a, 0x0a], text: WHITE, name: "RED" }
            }
        }
    }
}

/// Draws `text` centred on row `top` at `scale`× the 8×8 glyphs; characters without a glyph are
/// skipped, and text wider than the image is cut at its edges.
fn draw_text(img: &mut RgbImage, text: &str, top: u32, scale: u32, colour: [u8; 3]) {
    use font8x8::UnicodeFonts;
    let glyphs: Vec<[u8; 8]> = text.chars().filter_map(|c| font8x8::BASIC_FONTS.get(c)).collect();
    let width = glyphs.len() as u32 * GLYPH * scale;
    let left = img.width().saturating_sub(width) / 2;
    for (i, g) in glyphs.iter().enumerate() {
        for (row, bits) in g.iter().enumerate() {
            for col in 0..8u32 {
                if bits & (1 << col) == 0 {
                    continue;
                }
                for dy in 0..scale {
                    for dx in 0..scale {
                        let x = left + (i as u32 * GLYPH + col) * scale + dx;
                        let y = top + row as u32 * scale + dy;
                        if x < img.width() && y < img.height() {
                            img.put_pixel(x, y, Rgb(colour));
                        }
                    }
                }
            }
        }
    }
}

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

    /// The code as a person sees it: the modules in a dark shade of its colour on white, framed
    /// in the colour itself, with the colour's name and `caption` (its time) under it. Still a QR
    /// code every reader decodes: the dark shades stay far below the white in luminance, and the
    /// quiet zone is kept white.
    pub fn to_coloured_png(&self, colour: Colour, caption: &str) -> Vec<u8> {
        let style = Style::of(colour);
        let m = PNG_MODULE_PIXELS;
        let side = (self.code.width() as u32 + 2 * QUIET_ZONE) * m;
        let (frame, name_scale, caption_scale) = (FRAME_PIXELS, NAME_SCALE, CAPTION_SCALE);
        let band = GLYPH * name_scale + GLYPH * caption_scale + 3 * TEXT_GAP;
        let (w, h) = (side + 2 * frame, side + 2 * frame + band);
        let mut img = RgbImage::from_pixel(w, h, Rgb(style.bright));
        for y in 0..side {
            for x in 0..side {
                img.put_pixel(frame + x, frame + y, Rgb(WHITE));
            }
        }
        let modules = self.code.to_colors();
        let width = self.code.width();
        for (i, c) in modules.iter().enumerate() {
            if *c == qrcode::Color::Dark {
                let (mx, my) = ((i % width) as u32 + QUIET_ZONE, (i / width) as u32 + QUIET_ZONE);
                for dy in 0..m {
                    for dx in 0..m {
                        img.put_pixel(frame + mx * m + dx, frame + my * m + dy, Rgb(style.dark));
                    }
                }
            }
        }
        let name = style.name;
        let top = side + 2 * frame;
        draw_text(&mut img, name, top + TEXT_GAP, name_scale, style.text);
        draw_text(&mut img, caption, top + 2 * TEXT_GAP + GLYPH * name_scale, caption_scale, style.text);
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
    let grey = load_grey(image_bytes)?;
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

/// Decodes a PNG or JPEG image (at most [`MAX_IMAGE_SIDE`] pixels a side) to greyscale.
fn load_grey(image_bytes: &[u8]) -> Result<image::GrayImage, QrError> {
    let mut reader = ImageReader::new(Cursor::new(image_bytes))
        .with_guessed_format()
        .map_err(|e| QrError::Image(e.to_string()))?;
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_IMAGE_SIDE);
    limits.max_image_height = Some(MAX_IMAGE_SIDE);
    reader.limits(limits);
    Ok(reader.decode().map_err(|e| QrError::Image(e.to_string()))?.to_luma8())
}

/// [`load_grey`] as `(width, height, pixels)`, for [`read_luma`] where there are no threads.
pub fn load_luma(image_bytes: &[u8]) -> Result<(u32, u32, Vec<u8>), QrError> {
    let grey = load_grey(image_bytes)?;
    Ok((grey.width(), grey.height(), grey.into_raw()))
}

/// Reads the first readable QR code in a greyscale frame (`width × height` bytes, row by row):
/// a camera frame in the checkpoint's web page. Runs on the caller's thread, which in a
/// browser is the page's (there is no thread to abandon a hostile frame on; a camera frame is
/// small, and [`MAX_IMAGE_SIDE`] bounds it).
pub fn read_luma(width: u32, height: u32, luma: Vec<u8>) -> Result<Vec<u8>, QrError> {
    if width > MAX_IMAGE_SIDE || height > MAX_IMAGE_SIDE {
        return Err(QrError::Image(format!(
            "a {width}×{height} frame is larger than {MAX_IMAGE_SIDE} pixels a side"
        )));
    }
    let grey = image::GrayImage::from_raw(width, height, luma)
        .ok_or_else(|| QrError::Image(format!("the frame does not hold {width}×{height} pixels")))?;
    detect_and_decode(grey)
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
