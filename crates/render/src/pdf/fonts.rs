//! The embedded fonts: Liberation Sans Regular and Bold, measured with ttf-parser and
//! written as Type0/CIDFontType2 subsets with Identity-H encoding and a ToUnicode map.

use super::PdfError;
use pdf_writer::types::{CidFontType, FontFlags, SystemInfo, UnicodeCmap};
use pdf_writer::{Filter, Finish, Name, Pdf, Rect, Ref, Str};
use subsetter::GlyphRemapper;
use ttf_parser::{Face, GlyphId};

pub(crate) static REGULAR_TTF: &[u8] =
    include_bytes!("../../assets/fonts/LiberationSans-Regular.ttf");
pub(super) static BOLD_TTF: &[u8] = include_bytes!("../../assets/fonts/LiberationSans-Bold.ttf");

/// One embedded font: the parsed face and the glyphs used so far.
pub(super) struct FontState {
    pub(super) face: Face<'static>,
    pub(super) data: &'static [u8],
    /// Font units to thousandths of the text size.
    pub(super) scale: f32,
    pub(super) remapper: GlyphRemapper,
    /// The character each used glyph stands for, indexed by its new (subset) id.
    pub(super) unicode: Vec<Option<char>>,
    pub(super) fallback: GlyphId,
    /// The glyph, the character it reads back as and the advance of U+0000 to U+00FF,
    /// looked up once: a long report draws millions of characters, and a cmap lookup
    /// and an `hmtx` read each were a good part of its time.
    latin: Vec<(GlyphId, char, f32)>,
    /// The subset's id of each of those glyphs once drawn (`u16::MAX`: not drawn yet).
    latin_drawn: Vec<u16>,
}

impl FontState {
    pub(crate) fn new(data: &'static [u8]) -> Result<Self, PdfError> {
        let face = Face::parse(data, 0).map_err(|e| PdfError(e.to_string()))?;
        let scale = 1000.0 / f32::from(face.units_per_em().max(1));
        let fallback = face.glyph_index('?').unwrap_or(GlyphId(0));
        let mut font = FontState {
            face,
            data,
            scale,
            remapper: GlyphRemapper::new(),
            unicode: vec![None],
            fallback,
            latin: Vec::new(),
            latin_drawn: vec![u16::MAX; 256],
        };
        font.latin = (0..=255u8)
            .map(|b| {
                let (g, c) = font.lookup(char::from(b));
                (g, c, font.glyph_advance(g))
            })
            .collect();
        Ok(font)
    }

    fn lookup(&self, c: char) -> (GlyphId, char) {
        let c = if c.is_control() { ' ' } else { c };
        match self.face.glyph_index(c) {
            Some(g) => (g, c),
            None => (self.fallback, '?'),
        }
    }

    fn glyph_advance(&self, g: GlyphId) -> f32 {
        f32::from(self.face.glyph_hor_advance(g).unwrap_or(0)) * self.scale
    }

    /// The glyph for `c` and the character it will read back as (`?` when missing).
    pub(crate) fn glyph(&self, c: char) -> (GlyphId, char) {
        match self.latin.get(c as usize) {
            Some(&(g, c, _)) => (g, c),
            None => self.lookup(c),
        }
    }

    /// Advance of `c` in thousandths of the text size.
    pub(crate) fn advance(&self, c: char) -> f32 {
        match self.latin.get(c as usize) {
            Some(&(_, _, a)) => a,
            None => self.glyph_advance(self.lookup(c).0),
        }
    }

    /// Uses `c` in the subset: its glyph's id there and its advance (thousandths of the
    /// text size); the ToUnicode map learns what the glyph reads back as.
    pub(crate) fn draw(&mut self, c: char) -> (u16, f32) {
        if let Some(&new) = self.latin_drawn.get(c as usize)
            && new != u16::MAX
        {
            return (new, self.latin[c as usize].2);
        }
        let (g, ch) = self.glyph(c);
        let new = self.remapper.remap(g.0);
        let slot = usize::from(new);
        if self.unicode.len() <= slot {
            self.unicode.resize(slot + 1, None);
        }
        if g.0 != 0 && self.unicode[slot].is_none() {
            self.unicode[slot] = Some(ch);
        }
        if let Some(d) = self.latin_drawn.get_mut(c as usize) {
            *d = new;
        }
        (new, self.glyph_advance(g))
    }

    pub(crate) fn width(&self, size: f32, s: &str) -> f32 {
        s.chars().map(|c| self.advance(c)).sum::<f32>() * size / 1000.0
    }
}

pub(super) fn write_font(pdf: &mut Pdf, font: &FontState, refs: [Ref; 5]) -> Result<(), PdfError> {
    let [type0, cid, descriptor, to_unicode, file] = refs;
    let subset =
        subsetter::subset(font.data, 0, &font.remapper).map_err(|e| PdfError(e.to_string()))?;
    let gids: Vec<u16> = font.remapper.remapped_gids().collect();

    let family = font
        .face
        .names()
        .into_iter()
        .find(|n| n.name_id == ttf_parser::name_id::POST_SCRIPT_NAME && n.is_unicode())
        .and_then(|n| n.to_string())
        .unwrap_or_else(|| "LiberationSans".to_owned());
    let base = format!("{}+{family}", subset_tag(&gids));
    let base = Name(base.as_bytes());

    let system_info = SystemInfo {
        registry: Str(b"Adobe"),
        ordering: Str(b"Identity"),
        supplement: 0,
    };
    pdf.type0_font(type0)
        .base_font(base)
        .encoding_predefined(Name(b"Identity-H"))
        .descendant_font(cid)
        .to_unicode(to_unicode);

    let widths: Vec<f32> = gids
        .iter()
        .map(|&g| {
            let adv = font.face.glyph_hor_advance(GlyphId(g)).unwrap_or(0);
            (f32::from(adv) * font.scale).round()
        })
        .collect();
    let mut cid_font = pdf.cid_font(cid);
    cid_font
        .subtype(CidFontType::Type2)
        .base_font(base)
        .system_info(system_info)
        .font_descriptor(descriptor)
        .default_width(0.0)
        .cid_to_gid_map_predefined(Name(b"Identity"));
    cid_font.widths().consecutive(0, widths);
    cid_font.finish();

    let s = font.scale;
    let bbox = font.face.global_bounding_box();
    let ascent = f32::from(font.face.ascender()) * s;
    let descent = f32::from(font.face.descender()) * s;
    let cap = f32::from(font.face.capital_height().unwrap_or(font.face.ascender())) * s;
    let bold = font.face.is_bold();
    pdf.font_descriptor(descriptor)
        .name(base)
        .flags(FontFlags::SYMBOLIC)
        .bbox(Rect::new(
            f32::from(bbox.x_min) * s,
            f32::from(bbox.y_min) * s,
            f32::from(bbox.x_max) * s,
            f32::from(bbox.y_max) * s,
        ))
        .italic_angle(0.0)
        .ascent(ascent)
        .descent(descent)
        .cap_height(cap)
        .stem_v(if bold { 140.0 } else { 80.0 })
        .font_file2(file);

    let mut cmap = UnicodeCmap::new(Name(b"Adobe-Identity-UCS"), system_info);
    for (gid, ch) in font.unicode.iter().enumerate() {
        if let (Some(ch), Ok(gid)) = (ch, u16::try_from(gid)) {
            cmap.pair(gid, *ch);
        }
    }
    let cmap = deflate(&cmap.finish());
    pdf.cmap(to_unicode, &cmap).filter(Filter::FlateDecode);

    let length1 = i32::try_from(subset.len()).unwrap_or(i32::MAX);
    let data = deflate(&subset);
    pdf.stream(file, &data)
        .filter(Filter::FlateDecode)
        .pair(Name(b"Length1"), length1);
    Ok(())
}

/// Six capital letters naming a subset, derived from its glyphs (the PDF convention).
fn subset_tag(gids: &[u16]) -> String {
    // FNV-1a: stable across runs and platforms, so the same invoice gives the same bytes.
    let mut hash: u32 = 0x811c_9dc5;
    for g in gids {
        for b in g.to_be_bytes() {
            hash = (hash ^ u32::from(b)).wrapping_mul(0x0100_0193);
        }
    }
    (0..6)
        .map(|_| {
            let letter = b'A' + (hash % 26) as u8;
            hash /= 26;
            char::from(letter)
        })
        .collect()
}

pub(super) fn deflate(data: &[u8]) -> Vec<u8> {
    miniz_oxide::deflate::compress_to_vec_zlib(data, 6)
}

/// The deflate level of pages' content streams.
const PAGE_LEVEL: u8 = 1;

/// Deflate for pages' content streams, at level 1 rather than 6: deflate was about a
/// tenth of a long report's time at 6; at 1 the 100,000-order report is 13.3 MB instead
/// of 7.1 MB (docs/performance.md).
pub(super) fn deflate_fast(data: &[u8]) -> Vec<u8> {
    miniz_oxide::deflate::compress_to_vec_zlib(data, PAGE_LEVEL)
}
