//! An RGB pixel buffer with the few primitives a candlestick chart needs: filled rectangles
//! (bodies, wicks, grid lines, volume) and bitmap text. Everything is axis-aligned, so nothing
//! needs anti-aliasing and the colours in the image are exactly the colours drawn.

use super::font;

/// An RGB colour.
pub type Rgb = [u8; 3];

/// A `width × height` RGB image.
#[derive(Debug)]
pub struct Canvas {
    width: u32,
    height: u32,
    pixels: Vec<u8>,
}

impl Canvas {
    /// A canvas filled with `background`.
    #[must_use]
    pub fn new(width: u32, height: u32, background: Rgb) -> Self {
        let n = width as usize * height as usize;
        let pixels = background.iter().copied().cycle().take(n * 3).collect();
        Self { width, height, pixels }
    }

    /// Width in pixels.
    #[must_use]
    pub const fn width(&self) -> u32 {
        self.width
    }

    /// Height in pixels.
    #[must_use]
    pub const fn height(&self) -> u32 {
        self.height
    }

    /// The pixels, row by row, 3 bytes each.
    #[must_use]
    pub fn into_pixels(self) -> Vec<u8> {
        self.pixels
    }

    /// Fills the rectangle `[x, x + w) × [y, y + h)`, clipped to the canvas.
    pub fn fill_rect(&mut self, x: i64, y: i64, w: i64, h: i64, colour: Rgb) {
        let x0 = x.clamp(0, i64::from(self.width));
        let x1 = (x + w).clamp(0, i64::from(self.width));
        let y0 = y.clamp(0, i64::from(self.height));
        let y1 = (y + h).clamp(0, i64::from(self.height));
        let (Ok(x0), Ok(x1)) = (usize::try_from(x0), usize::try_from(x1)) else { return };
        let stride = self.width as usize * 3;
        for row in y0..y1 {
            let Ok(row) = usize::try_from(row) else { continue };
            let line = &mut self.pixels[row * stride + x0 * 3..row * stride + x1 * 3];
            for px in line.chunks_exact_mut(3) {
                px.copy_from_slice(&colour);
            }
        }
    }

    /// Draws `text` with its top-left corner at `(x, y)`, each font pixel `scale` pixels wide.
    pub fn text(&mut self, x: i64, y: i64, text: &str, scale: u32, colour: Rgb) {
        let s = i64::from(scale.max(1));
        let mut pen = x;
        for c in text.chars() {
            for (row, bits) in font::glyph(c).iter().enumerate() {
                for col in 0..font::WIDTH {
                    if bits & (1 << (font::WIDTH - 1 - col)) != 0 {
                        let row = i64::try_from(row).unwrap_or(0);
                        self.fill_rect(pen + i64::from(col) * s, y + row * s, s, s, colour);
                    }
                }
            }
            pen += i64::from(font::ADVANCE) * s;
        }
    }

    /// The colour at `(x, y)` (for tests).
    #[cfg(test)]
    pub fn pixel(&self, x: u32, y: u32) -> Rgb {
        let i = (y as usize * self.width as usize + x as usize) * 3;
        [self.pixels[i], self.pixels[i + 1], self.pixels[i + 2]]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rectangles_are_clipped_and_exact() {
        let mut c = Canvas::new(10, 5, [255, 255, 255]);
        c.fill_rect(-3, 1, 5, 10, [1, 2, 3]);
        assert_eq!(c.pixel(0, 1), [1, 2, 3]);
        assert_eq!(c.pixel(1, 4), [1, 2, 3]);
        assert_eq!(c.pixel(2, 1), [255, 255, 255]);
        assert_eq!(c.pixel(0, 0), [255, 255, 255]);
        c.fill_rect(20, 20, 5, 5, [0, 0, 0]);
        assert_eq!(c.into_pixels().len(), 150);
    }

    #[test]
    fn text_sets_the_glyph_pixels() {
        let mut c = Canvas::new(20, 10, [255, 255, 255]);
        c.text(0, 0, "1", 1, [0, 0, 0]);
        assert_eq!(c.pixel(2, 0), [0, 0, 0], "the stem of 1");
        assert_eq!(c.pixel(0, 0), [255, 255, 255]);
        assert_eq!(c.pixel(1, 6), [0, 0, 0], "the foot of 1");
    }
}
