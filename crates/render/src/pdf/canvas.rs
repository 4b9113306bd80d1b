//! Pages being drawn: text runs (measured, fitted, wrapped), rules and rectangles, then
//! the document with its fonts.

use super::fonts::{BOLD_TTF, FontState, REGULAR_TTF, deflate_fast, write_font};
use super::{Align, Font, PAGE_H, PAGE_W, PdfError, Rgb};
use pdf_writer::{Content, Filter, Finish, Name, Pdf, Rect, Ref, Str, TextStr};
use std::borrow::Cow;

/// Pages being drawn and the fonts they use.
pub(crate) struct Canvas {
    fonts: [FontState; 2],
    pages: Vec<Page>,
    current: usize,
    glyphs: Vec<u8>,
}

/// One page's content. When the next page starts, what was drawn is finished and
/// deflated (a 2,000-page report would otherwise hold its content streams, tens of
/// megabytes, until the end); what is drawn on the page later (a footer) goes into a
/// second content stream, which a PDF reader runs after the first.
struct Page {
    done: Option<Vec<u8>>,
    open: Content,
    state: State,
}

impl Page {
    fn new() -> Page {
        Page {
            done: None,
            open: Content::new(),
            state: State::default(),
        }
    }

    /// Finishes and deflates what was drawn so far, once.
    fn close(&mut self) {
        if self.done.is_none() {
            let content = std::mem::replace(&mut self.open, Content::new());
            self.done = Some(deflate_fast(&content.finish()));
            self.state = State::default();
        }
    }
}

/// The graphics state a content stream has set, so that a run of text or rules in the
/// same colour, font and width does not set them again (they are kept across text
/// objects: PDF 32000-1, 9.3.1).
#[derive(Default)]
struct State {
    fill: Option<(f32, f32, f32)>,
    stroke: Option<(f32, f32, f32)>,
    line_width: Option<f32>,
    font: Option<(Font, f32)>,
}

impl State {
    fn fill(&mut self, page: &mut Content, c: Rgb) {
        if self.fill != Some((c.0, c.1, c.2)) {
            page.set_fill_rgb(c.0, c.1, c.2);
            self.fill = Some((c.0, c.1, c.2));
        }
    }

    fn stroke(&mut self, page: &mut Content, c: Rgb, width: f32) {
        if self.stroke != Some((c.0, c.1, c.2)) {
            page.set_stroke_rgb(c.0, c.1, c.2);
            self.stroke = Some((c.0, c.1, c.2));
        }
        if self.line_width != Some(width) {
            page.set_line_width(width);
            self.line_width = Some(width);
        }
    }
}

impl Canvas {
    pub(crate) fn new() -> Result<Self, PdfError> {
        Ok(Canvas {
            fonts: [FontState::new(REGULAR_TTF)?, FontState::new(BOLD_TTF)?],
            pages: vec![Page::new()],
            current: 0,
            glyphs: Vec::new(),
        })
    }

    pub(crate) fn new_page(&mut self) {
        if let Some(last) = self.pages.last_mut() {
            last.close();
        }
        self.pages.push(Page::new());
        self.current = self.pages.len() - 1;
    }

    pub(crate) fn page_count(&self) -> usize {
        self.pages.len()
    }

    pub(crate) fn select_page(&mut self, i: usize) {
        self.current = i.min(self.pages.len().saturating_sub(1));
    }

    pub(crate) fn width(&self, font: Font, size: f32, s: &str) -> f32 {
        self.fonts[font as usize].width(size, s)
    }

    /// Draws `s` with its baseline at `y`, starting at `x` or ending at `x`.
    #[expect(
        clippy::too_many_arguments,
        reason = "a text run is this many plain values"
    )]
    pub(crate) fn text(
        &mut self,
        font: Font,
        size: f32,
        x: f32,
        y: f32,
        s: &str,
        align: Align,
        color: Rgb,
    ) {
        let Canvas {
            fonts,
            pages,
            current,
            glyphs,
        } = self;
        let f = &mut fonts[font as usize];
        glyphs.clear();
        let mut width = 0.0;
        for ch in s.chars() {
            let (new, advance) = f.draw(ch);
            width += advance;
            glyphs.extend_from_slice(&new.to_be_bytes());
        }
        if glyphs.is_empty() {
            return;
        }
        let x = match align {
            Align::Left => x,
            Align::Right => x - width * size / 1000.0,
        };
        let Some(page) = pages.get_mut(*current) else {
            return;
        };
        let Page { open, state, .. } = page;
        state.fill(open, color);
        open.begin_text();
        if state.font != Some((font, size)) {
            let name: &[u8] = if font == Font::Bold { b"F2" } else { b"F1" };
            open.set_font(Name(name), size);
            state.font = Some((font, size));
        }
        open.next_line(x, PAGE_H - y).show(Str(glyphs)).end_text();
    }

    /// [`Canvas::text`], shortened with `…` to at most `max_w` points.
    #[expect(
        clippy::too_many_arguments,
        reason = "a text run is this many plain values"
    )]
    pub(crate) fn text_fit(
        &mut self,
        font: Font,
        size: f32,
        x: f32,
        y: f32,
        s: &str,
        max_w: f32,
        align: Align,
        color: Rgb,
    ) {
        let fitted = self.fit(font, size, s, max_w);
        self.text(font, size, x, y, &fitted, align, color);
    }

    pub(crate) fn fit<'s>(&self, font: Font, size: f32, s: &'s str, max_w: f32) -> Cow<'s, str> {
        let f = &self.fonts[font as usize];
        if f.width(size, s) <= max_w {
            return Cow::Borrowed(s);
        }
        let limit = max_w * 1000.0 / size - f.advance('\u{2026}');
        let mut w = 0.0;
        let mut end = 0;
        for (i, ch) in s.char_indices() {
            w += f.advance(ch);
            if w > limit {
                break;
            }
            end = i + ch.len_utf8();
        }
        Cow::Owned(format!("{}\u{2026}", s[..end].trim_end()))
    }

    /// Breaks `s` into lines of at most `max_w` points at spaces (inside words when a word
    /// is wider than a line); at most `max_lines`, the last ending with `…` if cut.
    pub(crate) fn wrap(
        &self,
        font: Font,
        size: f32,
        s: &str,
        max_w: f32,
        max_lines: usize,
    ) -> Vec<String> {
        let f = &self.fonts[font as usize];
        let limit = max_w * 1000.0 / size;
        let space = f.advance(' ');
        let mut lines: Vec<String> = Vec::new();
        let mut line = String::new();
        let mut line_w = 0.0;
        let mut cut = false;
        'words: for word in s.split_whitespace() {
            let word_w: f32 = word.chars().map(|ch| f.advance(ch)).sum();
            if !line.is_empty() && line_w + space + word_w <= limit {
                line.push(' ');
                line.push_str(word);
                line_w += space + word_w;
                continue;
            }
            if !line.is_empty() {
                lines.push(std::mem::take(&mut line));
                line_w = 0.0;
            }
            if lines.len() >= max_lines {
                cut = true;
                break;
            }
            for ch in word.chars() {
                let w = f.advance(ch);
                if !line.is_empty() && line_w + w > limit {
                    lines.push(std::mem::take(&mut line));
                    line_w = 0.0;
                    if lines.len() >= max_lines {
                        cut = true;
                        break 'words;
                    }
                }
                line.push(ch);
                line_w += w;
            }
        }
        if !line.is_empty() {
            lines.push(line);
        }
        if lines.len() > max_lines {
            lines.truncate(max_lines);
            cut = true;
        }
        if cut && let Some(last) = lines.last_mut() {
            let with_mark = format!("{last} \u{2026}");
            *last = self.fit(font, size, &with_mark, max_w).into_owned();
        }
        if lines.is_empty() {
            lines.push(String::new());
        }
        lines
    }

    pub(crate) fn fill_rect(&mut self, x: f32, y: f32, w: f32, h: f32, color: Rgb) {
        if let Some(Page { open, state, .. }) = self.pages.get_mut(self.current) {
            state.fill(open, color);
            open.rect(x, PAGE_H - y - h, w, h).fill_nonzero();
        }
    }

    pub(crate) fn stroke_rect(&mut self, x: f32, y: f32, w: f32, h: f32, width: f32, color: Rgb) {
        if let Some(Page { open, state, .. }) = self.pages.get_mut(self.current) {
            state.stroke(open, color, width);
            open.rect(x, PAGE_H - y - h, w, h).stroke();
        }
    }

    pub(crate) fn hline(&mut self, x0: f32, x1: f32, y: f32, width: f32, color: Rgb) {
        if let Some(Page { open, state, .. }) = self.pages.get_mut(self.current) {
            state.stroke(open, color, width);
            open.move_to(x0, PAGE_H - y)
                .line_to(x1, PAGE_H - y)
                .stroke();
        }
    }

    /// Writes the document: pages, then each font as a Type0/CIDFontType2 subset with
    /// Identity-H encoding and a ToUnicode map.
    pub(crate) fn finish(self, title: &str) -> Result<Vec<u8>, PdfError> {
        let mut next = 0;
        let mut alloc = || {
            next += 1;
            Ref::new(next)
        };
        let catalog = alloc();
        let tree = alloc();
        let info = alloc();
        let font_refs: Vec<[Ref; 5]> = (0..2)
            .map(|_| [alloc(), alloc(), alloc(), alloc(), alloc()])
            .collect();
        // Each page's content streams, deflated: what was drawn before the next page
        // started (already deflated), then what was drawn on it later (its footer).
        let streams: Vec<Vec<Vec<u8>>> = self
            .pages
            .into_iter()
            .map(|p| {
                let later = p.open.finish();
                let mut s: Vec<Vec<u8>> = p.done.into_iter().collect();
                if s.is_empty() || !later.is_empty() {
                    s.push(deflate_fast(&later));
                }
                s
            })
            .collect();
        let page_refs: Vec<(Ref, Vec<Ref>)> = streams
            .iter()
            .map(|s| (alloc(), s.iter().map(|_| alloc()).collect()))
            .collect();

        let mut pdf = Pdf::new();
        pdf.catalog(catalog).pages(tree).lang(TextStr("en"));
        pdf.document_info(info)
            .title(TextStr(title))
            .producer(TextStr("Comptoir"));
        let page_count = i32::try_from(page_refs.len()).unwrap_or(i32::MAX);
        pdf.pages(tree)
            .kids(page_refs.iter().map(|(p, _)| *p))
            .count(page_count);

        for (data, (page_ref, content_refs)) in streams.iter().zip(&page_refs) {
            let mut page = pdf.page(*page_ref);
            page.parent(tree)
                .media_box(Rect::new(0.0, 0.0, PAGE_W, PAGE_H));
            match content_refs.as_slice() {
                [one] => page.contents(*one),
                many => page.contents_array(many.iter().copied()),
            };
            page.resources()
                .fonts()
                .pair(Name(b"F1"), font_refs[0][0])
                .pair(Name(b"F2"), font_refs[1][0]);
            page.finish();
            for (d, r) in data.iter().zip(content_refs) {
                pdf.stream(*r, d).filter(Filter::FlateDecode);
            }
        }

        for (font, refs) in self.fonts.iter().zip(&font_refs) {
            write_font(&mut pdf, font, *refs)?;
        }
        Ok(pdf.finish())
    }
}
