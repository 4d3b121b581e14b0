//! The PNG chart: candles with volume below, a price scale on the right, UTC time labels and a
//! title, drawn on a pixel buffer with a built-in bitmap font (no system font or library
//! needed) and encoded with the `png` crate.

use axia_domain::OhlcvSeries;

use super::raster::{Canvas, Rgb};
use super::scale::{TimeStep, price_ticks};
use super::{Candle, ChartError, ChartMeta, DOWN_RGB, MAX_SIDE, MIN_SIZE, UP_RGB, aggregate, bars_per_candle, font};

const BACKGROUND: Rgb = [0xff, 0xff, 0xff];
const GRID: Rgb = [0xec, 0xee, 0xf1];
const AXIS: Rgb = [0xc8, 0xcc, 0xd2];
const LABEL: Rgb = [0x55, 0x5b, 0x66];
const TITLE: Rgb = [0x1f, 0x23, 0x28];
const SYNTHETIC: Rgb = [0xc6, 0x28, 0x28];
const UP_VOLUME: Rgb = [0xa8, 0xdb, 0xd7];
const DOWN_VOLUME: Rgb = [0xf9, 0xba, 0xb9];

/// Renders `series` as a `width × height` PNG.
///
/// # Errors
/// [`ChartError::Empty`] for a series without bars, [`ChartError::Size`] outside
/// [`MIN_SIZE`]..[`MAX_SIDE`], [`ChartError::Encode`] when encoding fails.
pub fn render_png(series: &OhlcvSeries, meta: &ChartMeta, width: u32, height: u32) -> Result<Vec<u8>, ChartError> {
    if width < MIN_SIZE.0 || height < MIN_SIZE.1 || width > MAX_SIDE || height > MAX_SIDE {
        return Err(ChartError::Size { width, height });
    }
    let layout = Layout::new(series, meta, width, height)?;
    let mut canvas = Canvas::new(width, height, BACKGROUND);
    layout.draw_axes(&mut canvas);
    layout.draw_candles(&mut canvas);
    layout.draw_header(&mut canvas, meta);
    encode(canvas)
}

fn encode(canvas: Canvas) -> Result<Vec<u8>, ChartError> {
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, canvas.width(), canvas.height());
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().map_err(|e| ChartError::Encode(e.to_string()))?;
    writer.write_image_data(&canvas.into_pixels()).map_err(|e| ChartError::Encode(e.to_string()))?;
    writer.finish().map_err(|e| ChartError::Encode(e.to_string()))?;
    Ok(out)
}

/// Where everything goes, in pixels.
#[derive(Debug)]
pub(crate) struct Layout {
    candles: Vec<Candle>,
    digits: usize,
    scale: u32,
    width: i64,
    left: i64,
    right: i64,
    price_top: i64,
    price_bottom: i64,
    volume_top: i64,
    volume_bottom: i64,
    lo: f64,
    hi: f64,
    max_volume: u64,
}

#[allow(clippy::cast_possible_truncation, clippy::cast_precision_loss)]
impl Layout {
    pub(crate) fn new(series: &OhlcvSeries, meta: &ChartMeta, width: u32, height: u32) -> Result<Self, ChartError> {
        if series.is_empty() {
            return Err(ChartError::Empty);
        }
        let scale: u32 = if width >= 640 && height >= 400 { 2 } else { 1 };
        let s = i64::from(scale);
        let digits = super::price_digits(series);
        let text_h = i64::from(font::HEIGHT) * s;
        let header = 10 + text_h + 8 + if meta.provider.is_some() { i64::from(font::HEIGHT) + 8 } else { 0 };
        let sample = format!("{:.*}", digits, series.bars().iter().map(|b| b.high()).fold(0.0, f64::max));
        let axis = i64::from(font::text_width(&sample, scale)) + 20;
        let (w, h) = (i64::from(width), i64::from(height));
        let (left, right) = (10, w - axis);
        let bottom = h - text_h - 14;
        let plot_h = bottom - header;
        let price_bottom = header + plot_h * 78 / 100;
        let per = bars_per_candle(series.len(), usize::try_from(right - left).unwrap_or(1));
        let candles = aggregate(series.bars(), per);
        let lo = candles.iter().map(|c| c.low).fold(f64::MAX, f64::min);
        let hi = candles.iter().map(|c| c.high).fold(f64::MIN, f64::max);
        let pad = if hi > lo { (hi - lo) * 0.05 } else { lo.abs().max(1.0) * 0.001 };
        let max_volume = candles.iter().map(|c| c.volume).max().unwrap_or(0).max(1);
        Ok(Self {
            candles,
            digits,
            scale,
            width: w,
            left,
            right,
            price_top: header,
            price_bottom,
            volume_top: price_bottom + 8,
            volume_bottom: bottom,
            lo: lo - pad,
            hi: hi + pad,
            max_volume,
        })
    }

    /// Horizontal space per candle.
    fn slot(&self) -> f64 {
        (self.right - self.left) as f64 / self.candles.len() as f64
    }

    /// The centre column of candle `i`.
    pub(crate) fn x_center(&self, i: usize) -> i64 {
        self.left + ((i as f64 + 0.5) * self.slot()).floor() as i64
    }

    /// The row of price `p`.
    pub(crate) fn y(&self, p: f64) -> i64 {
        let span = (self.price_bottom - self.price_top) as f64;
        self.price_top + ((self.hi - p) / (self.hi - self.lo) * span).round() as i64
    }

    fn draw_axes(&self, c: &mut Canvas) {
        let s = i64::from(self.scale);
        let text_h = i64::from(font::HEIGHT) * s;
        let target = usize::try_from((self.price_bottom - self.price_top) / (text_h * 4)).unwrap_or(4).max(2);
        for p in price_ticks(self.lo, self.hi, target) {
            let y = self.y(p);
            c.fill_rect(self.left, y, self.right - self.left, 1, GRID);
            c.text(self.right + 8, y - text_h / 2, &format!("{p:.*}", self.digits), self.scale, LABEL);
        }
        // Time labels where the label period changes, at least one label width apart.
        let min_gap = i64::from(font::text_width("00-00 00", self.scale));
        let first = self.candles[0].time;
        let last = self.candles[self.candles.len() - 1].time;
        let secs_per_px = (last - first).num_seconds() as f64 / (self.right - self.left) as f64;
        let step = TimeStep::at_least(secs_per_px * min_gap as f64);
        let mut last_period = step.period(first);
        let mut last_x = i64::MIN / 2;
        for (i, candle) in self.candles.iter().enumerate().skip(1) {
            let period = step.period(candle.time);
            let x = self.x_center(i);
            if period == last_period || x - last_x < min_gap {
                last_period = period;
                continue;
            }
            (last_period, last_x) = (period, x);
            let label = step.label(candle.time);
            let half = i64::from(font::text_width(&label, self.scale)) / 2;
            c.fill_rect(x, self.price_top, 1, self.volume_bottom - self.price_top, GRID);
            if x - half >= self.left && x + half <= self.right {
                c.text(x - half, self.volume_bottom + 7, &label, self.scale, LABEL);
            }
        }
        c.fill_rect(self.right, self.price_top, 1, self.volume_bottom - self.price_top, AXIS);
        c.fill_rect(self.left, self.volume_bottom, self.right - self.left + 1, 1, AXIS);
        c.fill_rect(self.left, self.volume_top - 4, self.right - self.left, 1, AXIS);
        c.text(self.right + 8, self.volume_bottom + 7, "UTC", self.scale, LABEL);
    }

    fn draw_candles(&self, c: &mut Canvas) {
        let body = ((self.slot() * 0.7).floor() as i64).max(1);
        let volume_h = (self.volume_bottom - self.volume_top) as f64;
        for (i, k) in self.candles.iter().enumerate() {
            let (colour, light) = if k.is_up() { (UP_RGB, UP_VOLUME) } else { (DOWN_RGB, DOWN_VOLUME) };
            let x = self.x_center(i);
            let x0 = x - body / 2;
            let v = (k.volume as f64 / self.max_volume as f64 * volume_h).round() as i64;
            c.fill_rect(x0, self.volume_bottom - v, body, v, light);
            let (top, bottom) = (self.y(k.high), self.y(k.low));
            c.fill_rect(x, top, 1, bottom - top + 1, colour);
            let (open, close) = (self.y(k.open), self.y(k.close));
            c.fill_rect(x0, open.min(close), body, (open - close).abs().max(1), colour);
        }
        // The last close, marked on the price scale.
        if let Some(last) = self.candles.last() {
            let s = i64::from(self.scale);
            let text_h = i64::from(font::HEIGHT) * s;
            let y = self.y(last.close);
            let colour = if last.is_up() { UP_RGB } else { DOWN_RGB };
            c.fill_rect(self.right + 1, y - text_h / 2 - 3, self.width - self.right - 1, text_h + 6, colour);
            c.text(self.right + 8, y - text_h / 2, &format!("{:.*}", self.digits, last.close), self.scale, BACKGROUND);
        }
    }

    fn draw_header(&self, c: &mut Canvas, meta: &ChartMeta) {
        let s = i64::from(self.scale);
        c.text(self.left, 10, &meta.title(), self.scale, TITLE);
        if meta.synthetic {
            let label = "SYNTHETIC DATA";
            let w = i64::from(font::text_width(label, self.scale));
            let x = self.width - w - 14;
            c.fill_rect(x - 6, 4, w + 12, i64::from(font::HEIGHT) * s + 12, SYNTHETIC);
            c.text(x, 10, label, self.scale, BACKGROUND);
        }
        if let Some(provider) = &meta.provider {
            c.text(self.left, 10 + i64::from(font::HEIGHT) * s + 8, provider, 1, LABEL);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use rstest::rstest;

    use super::super::tests::{meta, series};
    use super::*;

    /// Decodes a PNG into (width, height, RGB pixels).
    fn decode(bytes: &[u8]) -> (u32, u32, Vec<u8>) {
        let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
        let mut reader = decoder.read_info().expect("PNG header");
        let mut buf = vec![0; reader.output_buffer_size().expect("size")];
        let info = reader.next_frame(&mut buf).expect("PNG frame");
        assert_eq!(info.color_type, png::ColorType::Rgb);
        buf.truncate(info.buffer_size());
        (info.width, info.height, buf)
    }

    fn at(pixels: &[u8], width: u32, x: i64, y: i64) -> [u8; 3] {
        let i = (usize::try_from(y).unwrap() * width as usize + usize::try_from(x).unwrap()) * 3;
        [pixels[i], pixels[i + 1], pixels[i + 2]]
    }

    #[rstest]
    #[case(1280, 720)]
    #[case(400, 250)]
    fn candles_have_the_up_and_down_colours_where_the_layout_puts_them(#[case] w: u32, #[case] h: u32) {
        let s = series(10);
        let m = meta(&s, false);
        let (width, height, pixels) = decode(&render_png(&s, &m, w, h).unwrap());
        assert_eq!((width, height), (w, h));
        let layout = Layout::new(&s, &m, w, h).unwrap();
        for (i, bar) in s.bars().iter().enumerate().take(4) {
            let y = layout.y(f64::midpoint(bar.open(), bar.close()));
            let expected = if bar.close() >= bar.open() { UP_RGB } else { DOWN_RGB };
            assert_eq!(at(&pixels, width, layout.x_center(i), y), expected, "candle {i}");
        }
        let colours: HashSet<[u8; 3]> = pixels.chunks_exact(3).map(|p| [p[0], p[1], p[2]]).collect();
        assert!(colours.len() >= 6, "{} colours", colours.len());
    }

    #[test]
    fn synthetic_data_is_labelled() {
        let s = series(10);
        let count_red = |synthetic: bool| {
            let (_, _, pixels) = decode(&render_png(&s, &meta(&s, synthetic), 800, 450).unwrap());
            pixels.chunks_exact(3).filter(|p| *p == SYNTHETIC).count()
        };
        assert_eq!(count_red(false), 0);
        assert!(count_red(true) > 500);
    }

    #[test]
    fn many_bars_are_aggregated_to_the_width() {
        let s = series(3000);
        let layout = Layout::new(&s, &meta(&s, false), 1280, 720).unwrap();
        assert!(layout.candles.len() <= usize::try_from(layout.right - layout.left).unwrap());
        assert_eq!(layout.candles.iter().map(|c| c.count).sum::<usize>(), 3000);
    }

    #[rstest]
    #[case(100, 720)]
    #[case(1280, 10)]
    #[case(9000, 720)]
    fn sizes_out_of_bounds_are_refused(#[case] w: u32, #[case] h: u32) {
        let s = series(3);
        assert!(matches!(render_png(&s, &meta(&s, false), w, h), Err(ChartError::Size { .. })));
    }

    #[test]
    fn an_empty_series_is_refused() {
        let s = series(3);
        let empty = OhlcvSeries::empty(s.key().clone());
        assert!(matches!(render_png(&empty, &meta(&s, false), 800, 600), Err(ChartError::Empty)));
    }
}
