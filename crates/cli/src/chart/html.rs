//! The HTML chart: one self-contained page (no network: style, script and data inline) with an
//! interactive candlestick chart on `<canvas>` drawn by a small script of our own (`chart.js`).

use std::fmt::Write as _;

use axia_domain::OhlcvSeries;

use super::{ChartMeta, DOWN_RGB, UP_RGB, minute, price_digits};

/// The page's script: drawing, axes, crosshair and tooltip, wheel zoom, drag pan, resizing.
const SCRIPT: &str = include_str!("chart.js");

const STYLE: &str = "\
*{box-sizing:border-box}html,body{margin:0;height:100%;background:#fff;color:#1f2328;\
font:13px/1.4 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif}\
body{display:flex;flex-direction:column}\
header{display:flex;flex-wrap:wrap;align-items:baseline;gap:4px 14px;padding:8px 12px 4px}\
h1{font-size:17px;margin:0}.range{color:#555b66}\
.synthetic{background:#c62828;color:#fff;font-weight:700;padding:1px 8px;border-radius:3px;letter-spacing:.04em}\
.provider,.hint{color:#8a9099;font-size:11px}.hint{margin-left:auto}\
#wrap{position:relative;flex:1;min-height:240px;margin:0 4px 4px}\
#wrap canvas{position:absolute;left:0;top:0;width:100%;height:100%}#overlay{cursor:crosshair}\
#tip{position:absolute;display:none;pointer-events:none;background:rgba(255,255,255,.95);\
border:1px solid #c8ccd2;border-radius:4px;padding:4px 8px;font:12px/1.45 ui-monospace,Menlo,Consolas,monospace;\
white-space:pre;box-shadow:0 1px 4px rgba(0,0,0,.12)}";

/// Renders `series` as a self-contained HTML page.
///
/// The page sets `document.body.dataset.candlesDrawn` (candles drawn by the last draw) and
/// `data-bars` (bars in the data) after its first draw, so a headless browser can check it.
/// An empty series gives a page that says so; callers should refuse it before (`axia chart`
/// does).
#[must_use]
pub fn render_html(series: &OhlcvSeries, meta: &ChartMeta) -> String {
    let title = escape(&format!("{} {}", meta.symbol, meta.timeframe));
    let range = escape(&format!("{} \u{2013} {} UTC", minute(meta.range.start()), minute(meta.range.end())));
    let synthetic = if meta.synthetic {
        r#"<span class="synthetic" title="generated bars, not market prices">SYNTHETIC DATA</span>"#
    } else {
        ""
    };
    let provider =
        meta.provider.as_deref().map(|p| format!(r#"<span class="provider">{}</span>"#, escape(p))).unwrap_or_default();
    let mut page = String::with_capacity(series.len() * 48 + SCRIPT.len() + 4096);
    let _ = write!(
        page,
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>{title}{synthetic_title}</title><style>{STYLE}</style></head>
<body data-bars="{bars}">
<header><h1>{title}</h1><span class="range">{range}</span>{synthetic}{provider}<span class="hint">wheel: zoom · drag: pan · double-click: reset</span></header>
<div id="wrap"><canvas id="base"></canvas><canvas id="overlay"></canvas><div id="tip"></div></div>
<script id="bars" type="application/json">"#,
        synthetic_title = if meta.synthetic { " (SYNTHETIC DATA)" } else { "" },
        bars = series.len(),
    );
    write_data(&mut page, series);
    let _ = write!(page, "</script>\n<script>\n{SCRIPT}</script>\n</body></html>\n");
    page
}

/// The bars as compact JSON: parallel arrays of open times (Unix seconds) and OHLCV, plus the
/// colours and price decimals. Only numbers, so nothing needs escaping inside `<script>`.
fn write_data(out: &mut String, series: &OhlcvSeries) {
    let bars = series.bars();
    let hex = |c: [u8; 3]| format!("#{:02x}{:02x}{:02x}", c[0], c[1], c[2]);
    let _ = write!(
        out,
        r#"{{"digits":{},"tf":{},"up":"{}","down":"{}","t":["#,
        price_digits(series),
        series.timeframe().seconds(),
        hex(UP_RGB),
        hex(DOWN_RGB)
    );
    list(out, bars.iter().map(|b| b.open_time().timestamp()));
    for (name, field) in [("o", 0), ("h", 1), ("l", 2), ("c", 3)] {
        let _ = write!(out, r#"],"{name}":["#);
        list(
            out,
            bars.iter().map(|b| match field {
                0 => b.open(),
                1 => b.high(),
                2 => b.low(),
                _ => b.close(),
            }),
        );
    }
    out.push_str(r#"],"v":["#);
    list(out, bars.iter().map(axia_domain::Bar::volume));
    out.push_str("]}");
}

fn list<T: std::fmt::Display>(out: &mut String, items: impl Iterator<Item = T>) {
    for (i, item) in items.enumerate() {
        if i > 0 {
            out.push(',');
        }
        let _ = write!(out, "{item}");
    }
}

/// Escapes text for HTML element content and attribute values.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::super::tests::{meta, series};
    use super::*;

    fn data(page: &str) -> Value {
        let start = page.find(r#"type="application/json">"#).unwrap() + r#"type="application/json">"#.len();
        let end = start + page[start..].find("</script>").unwrap();
        serde_json::from_str(&page[start..end]).expect("embedded JSON")
    }

    #[test]
    fn the_page_embeds_every_bar_and_needs_no_network() {
        let s = series(12);
        let page = render_html(&s, &meta(&s, false));
        let d = data(&page);
        assert_eq!(d["t"].as_array().unwrap().len(), 12);
        assert_eq!(d["t"][1].as_i64().unwrap() - d["t"][0].as_i64().unwrap(), 3600);
        assert_eq!(d["c"][3].as_f64(), Some(s.bars()[3].close()));
        assert_eq!(d["v"][11].as_u64(), Some(s.bars()[11].volume()));
        assert_eq!(d["up"], "#26a69a");
        assert!(page.contains(r#"data-bars="12""#));
        assert!(page.contains("candlesDrawn"));
        for remote in ["http://", "https://", "src=", "href=", "@import"] {
            assert!(!page.contains(remote), "the page must be self-contained: found {remote}");
        }
        assert!(!page.contains("SYNTHETIC"));
    }

    #[test]
    fn synthetic_data_and_provider_metadata_are_shown_escaped() {
        let s = series(3);
        let mut m = meta(&s, true);
        m.provider = Some("<redis> & parquet".into());
        let page = render_html(&s, &m);
        assert!(page.contains(r#"<span class="synthetic""#));
        assert!(page.contains("&lt;redis&gt; &amp; parquet"));
        assert!(!page.contains("<redis>"));
    }
}
