//! A small PDF canvas for A4 documents (the invoice, the daily report): pages drawn with
//! `y` growing downwards, text in embedded subset Liberation Sans (searchable and
//! copyable through a ToUnicode map), rules and filled rectangles.

mod canvas;
mod fonts;

pub(crate) use canvas::Canvas;
#[cfg(test)]
pub(crate) use fonts::REGULAR_TTF;

use std::fmt;

// Geometry, in points; `y` grows downwards from the top of the page everywhere a canvas
// is drawn on and is flipped only when written to the content stream.
pub(crate) const PAGE_W: f32 = 595.28;
pub(crate) const PAGE_H: f32 = 841.89;

/// A fill or stroke colour.
#[derive(Clone, Copy)]
pub(crate) struct Rgb(pub(crate) f32, pub(crate) f32, pub(crate) f32);

pub(crate) const INK: Rgb = Rgb(0.12, 0.12, 0.14);
pub(crate) const MUTED: Rgb = Rgb(0.42, 0.43, 0.46);
pub(crate) const RULE: Rgb = Rgb(0.82, 0.83, 0.85);
pub(crate) const BAND: Rgb = Rgb(0.93, 0.94, 0.95);
pub(crate) const ACCENT: Rgb = Rgb(0.16, 0.25, 0.36);

/// The two embedded faces.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Font {
    Regular = 0,
    Bold = 1,
}

/// Where a text run's `x` is: its start or its end.
#[derive(Clone, Copy)]
pub(crate) enum Align {
    Left,
    Right,
}

/// The embedded font could not be read or subset.
#[derive(Debug)]
pub struct PdfError(pub(crate) String);

impl fmt::Display for PdfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "embedded font: {}", self.0)
    }
}

impl std::error::Error for PdfError {}
