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
