//! The embedded font: plots must render identically on a CI runner with no
//! fonts installed, so text is laid out with DejaVu Sans compiled into the
//! binary (assets/DejaVuSans.ttf, Bitstream Vera license, redistributable).

use std::sync::OnceLock;

use plotters::style::FontStyle;

static DEJAVU_SANS: &[u8] = include_bytes!("../../../assets/DejaVuSans.ttf");

/// Family name plots use; registered to the embedded font.
pub const FAMILY: &str = "sans-serif";

/// Registers the embedded font once per process (plotters' ab_glyph backend
/// has no fallback to system fonts).
pub fn ensure_registered() -> Result<(), String> {
    static DONE: OnceLock<Result<(), String>> = OnceLock::new();
    DONE.get_or_init(|| {
        for style in [FontStyle::Normal, FontStyle::Bold] {
            plotters::style::register_font(FAMILY, style, DEJAVU_SANS)
                .map_err(|_| "embedded DejaVuSans.ttf could not be loaded".to_string())?;
        }
        Ok(())
    })
    .clone()
}

use ab_glyph::{point, Font, FontRef, PxScale, ScaleFont};
use plotters_backend::text_anchor::{HPos, VPos};
use plotters_backend::{
    BackendColor, BackendCoord, BackendStyle, BackendTextStyle, DrawingBackend, DrawingErrorKind,
};

/// A bitmap backend whose text is drawn glyph by glyph at its exact
/// (fractional) pen position and side bearing, the way the SVG viewer lays
/// it out; everything else goes to the wrapped backend unchanged.
pub struct GlyphText<B>(pub B);

impl<B: DrawingBackend> DrawingBackend for GlyphText<B> {
    type ErrorType = B::ErrorType;

    fn get_size(&self) -> (u32, u32) {
        self.0.get_size()
    }
    fn ensure_prepared(&mut self) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.0.ensure_prepared()
    }
    fn present(&mut self) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.0.present()
    }
    fn draw_pixel(
        &mut self,
        p: BackendCoord,
        c: BackendColor,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.0.draw_pixel(p, c)
    }
    fn draw_line<S: BackendStyle>(
        &mut self,
        a: BackendCoord,
        b: BackendCoord,
        s: &S,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.0.draw_line(a, b, s)
    }
    fn draw_rect<S: BackendStyle>(
        &mut self,
        a: BackendCoord,
        b: BackendCoord,
        s: &S,
        fill: bool,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.0.draw_rect(a, b, s, fill)
    }
    fn draw_path<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        path: I,
        s: &S,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.0.draw_path(path, s)
    }
    fn draw_circle<S: BackendStyle>(
        &mut self,
        c: BackendCoord,
        r: u32,
        s: &S,
        fill: bool,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.0.draw_circle(c, r, s, fill)
    }
    fn fill_polygon<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        vert: I,
        s: &S,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.0.fill_polygon(vert, s)
    }
    fn blit_bitmap(
        &mut self,
        pos: BackendCoord,
        (iw, ih): (u32, u32),
        src: &[u8],
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.0.blit_bitmap(pos, (iw, ih), src)
    }
    fn estimate_text_size<S: BackendTextStyle>(
        &self,
        text: &str,
        style: &S,
    ) -> Result<(u32, u32), DrawingErrorKind<Self::ErrorType>> {
        self.0.estimate_text_size(text, style)
    }

    fn draw_text<S: BackendTextStyle>(
        &mut self,
        text: &str,
        style: &S,
        pos: BackendCoord,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        let color = style.color();
        if color.alpha == 0.0 {
            return Ok(());
        }
        let Ok(font) = FontRef::try_from_slice(DEJAVU_SANS) else {
            return self.0.draw_text(text, style, pos);
        };
        let size = style.size() as f32;
        let glyphs = layout(&font, size, text);
        // The box plotters laid the chart out with: the advance width and
        // size / 1.24 high, as its own estimate (so nothing moves).
        let (width, height) = (
            glyphs.last().map_or(0.0, |g| g.1) as i32,
            (f64::from(size) / 1.24) as i32,
        );
        let dx = match style.anchor().h_pos {
            HPos::Left => 0,
            HPos::Right => -width,
            HPos::Center => -width / 2,
        };
        let dy = match style.anchor().v_pos {
            VPos::Top => 0,
            VPos::Center => -height / 2,
            VPos::Bottom => -height,
        };
        let trans = style.transform();
        let (w, h) = self.get_size();
        let scaled = font.as_scaled(PxScale::from(size));
        for (c, x) in text.chars().zip(glyphs.iter().map(|g| g.0)) {
            // Baseline where plotters puts it: half the size below the top.
            let glyph = scaled
                .glyph_id(c)
                .with_scale_and_position(size, point(x, size / 2.0));
            let Some(outline) = font.outline_glyph(glyph) else {
                continue;
            };
            let b = outline.px_bounds();
            let mut pixels = Vec::new();
            outline.draw(|gx, gy, cov| pixels.push((gx, gy, cov)));
            for (gx, gy, cov) in pixels {
                if cov <= 0.0 {
                    continue;
                }
                let (px, py) = (b.min.x as i32 + gx as i32, b.min.y as i32 + gy as i32);
                let (tx, ty) = trans.transform(px + dx, py + dy);
                let (tx, ty) = (pos.0 + tx, pos.1 + ty);
                if tx >= 0 && ty >= 0 && (tx as u32) < w && (ty as u32) < h {
                    let c = BackendColor {
                        alpha: color.alpha * f64::from(cov.min(1.0)),
                        rgb: color.rgb,
                    };
                    self.0.draw_pixel((tx, ty), c)?;
                }
            }
        }
        Ok(())
    }
}

/// Each character's pen position (x, fractional) and the pen after it,
/// with kerning, at `size` px.
fn layout(font: &FontRef<'_>, size: f32, text: &str) -> Vec<(f32, f32)> {
    let scaled = font.as_scaled(PxScale::from(size));
    let mut pen = 0f32;
    let mut prev = None;
    let mut out = Vec::with_capacity(text.len());
    for c in text.chars() {
        let id = scaled.glyph_id(c);
        if let Some(p) = prev {
            pen += scaled.kern(p, id);
        }
        let at = pen;
        pen += scaled.h_advance(id);
        out.push((at, pen));
        prev = Some(id);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The pen moves by whole advances with fractional positions kept: the
    /// gap between two glyphs never depends on rounding the one before.
    #[test]
    fn pen_positions_are_fractional_and_monotonic() {
        let font = FontRef::try_from_slice(DEJAVU_SANS).unwrap();
        let l = layout(&font, 15.0, "time (s)");
        assert_eq!(l.len(), 8);
        assert!(l
            .windows(2)
            .all(|w| w[1].0 >= w[0].1 - 2.0 && w[1].0 > w[0].0));
        assert!(l.iter().any(|(x, _)| x.fract() != 0.0));
    }
}
