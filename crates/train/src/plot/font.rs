//! The font the plot draws its text with, carried inside the binary.
//!
//! `assets/DejaVuSans-subset.ttf` is DejaVu Sans 2.37 (Debian's
//! `fonts-dejavu-core`), cut down with fontTools to the characters the plot
//! uses (22 KB instead of 760 KB); its licence (Bitstream Vera, DejaVu
//! changes public domain) and how it was made are in
//! `assets/DejaVuSans-subset.LICENSE.txt` beside it. plotters' `ab_glyph`
//! feature rasterises it, so no system font or fontconfig is needed: the
//! plot looks the same on a CI container as on a workstation.

use std::sync::OnceLock;

use plotters::style::{FontStyle, register_font};

/// The bundled font file.
static FONT: &[u8] = include_bytes!("../../assets/DejaVuSans-subset.ttf");

/// The family name the plot's text styles ask for.
pub(super) const FAMILY: &str = "sans-serif";

/// Registers the bundled font under [`FAMILY`] once per process; the
/// error, if the font does not parse, is remembered and returned each time.
pub(super) fn ensure_registered() -> Result<(), String> {
    static DONE: OnceLock<Result<(), String>> = OnceLock::new();
    DONE.get_or_init(|| {
        register_font(FAMILY, FontStyle::Normal, FONT)
            .map_err(|_| "the bundled font (assets/DejaVuSans-subset.ttf) does not parse".into())
    })
    .clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bundled_font_registers() {
        ensure_registered().unwrap();
        ensure_registered().unwrap();
    }
}
