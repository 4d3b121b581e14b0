//! `axia chart`: the HTML page drawn by a real headless Chromium (`AXIA_TEST_CHROMIUM`, which
//! `scripts/test.sh` installs), the PNG image decoded back, and the refusals (bad extension,
//! no bars) leaving no file.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use chrono::NaiveDateTime;

use crate::support::{Scratch, stderr};

const UP: [u8; 3] = [0x26, 0xa6, 0x9a];
const DOWN: [u8; 3] = [0xef, 0x53, 0x50];

/// The Chromium binary that `scripts/test.sh` installs and exports.
fn chromium() -> PathBuf {
    let path = std::env::var("AXIA_TEST_CHROMIUM").unwrap_or_else(|_| {
        panic!("AXIA_TEST_CHROMIUM is not set: run the tests with scripts/test.sh, which installs chromium")
    });
    assert!(
        Path::new(&path).is_file(),
        "AXIA_TEST_CHROMIUM={path} is not a file: run scripts/test.sh, which installs chromium (apt-get install chromium)"
    );
    PathBuf::from(path)
}

/// Runs headless Chromium on `page` with `extra` arguments (own profile, 1280×800 window);
/// returns what it printed on stdout.
fn headless(s: &Scratch, page: &Path, extra: &[&str]) -> String {
    // Output goes to files: a dumped DOM is larger than a pipe buffer.
    let (stdout, stderr) = (s.path().join("chromium.out"), s.path().join("chromium.err"));
    let mut child = Command::new(chromium())
        .args(["--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run"])
        .args(["--virtual-time-budget=5000", "--window-size=1280,800"])
        .arg(format!("--user-data-dir={}", s.path().join("chromium-profile").display()))
        .args(extra)
        .arg(format!("file://{}", page.display()))
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&stdout).expect("stdout file"))
        .stderr(std::fs::File::create(&stderr).expect("stderr file"))
        .spawn()
        .expect("start chromium");
    let deadline = Instant::now() + Duration::from_secs(90);
    let status = loop {
        if let Some(status) = child.try_wait().expect("poll chromium") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("headless chromium did not finish within 90 s on {}", page.display());
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let err = std::fs::read_to_string(&stderr).unwrap_or_default();
    assert!(status.success(), "chromium failed: {status}\n{err}");
    std::fs::read_to_string(&stdout).expect("chromium stdout")
}

/// The value of `name="…"` on the `<body>` tag of a dumped DOM.
fn body_attr(dom: &str, name: &str) -> Option<u64> {
    let start = dom.find("<body")?;
    let tag = &dom[start..start + dom[start..].find('>')?];
    let value_start = tag.find(&format!("{name}=\""))? + name.len() + 2;
    tag[value_start..value_start + tag[value_start..].find('"')?].parse().ok()
}

/// Decodes a PNG into (width, height, RGB of every pixel).
fn decode(bytes: &[u8]) -> (u32, u32, Vec<[u8; 3]>) {
    let mut reader = png::Decoder::new(std::io::Cursor::new(bytes)).read_info().expect("a PNG");
    let mut buf = vec![0; reader.output_buffer_size().expect("buffer size")];
    let info = reader.next_frame(&mut buf).expect("a PNG frame");
    assert_eq!(info.bit_depth, png::BitDepth::Eight);
    let samples = info.color_type.samples();
    assert!(samples >= 3, "{:?}", info.color_type);
    let pixels = buf[..info.buffer_size()].chunks_exact(samples).map(|p| [p[0], p[1], p[2]]).collect();
    (info.width, info.height, pixels)
}

fn stored_rows(s: &Scratch, symbol: &str, tf: &str) -> u64 {
    let csv = s.ok(&["fetch", symbol, tf, "--format", "csv"]);
    csv.lines().count() as u64 - 1
}

/// Draws `page` in Chromium and checks the drawn candles against the bars; returns (bars,
/// candles drawn, bars per candle).
fn drawn(s: &Scratch, page: &Path) -> (u64, u64, u64) {
    let dom = headless(s, page, &["--dump-dom"]);
    let bars = body_attr(&dom, "data-bars").unwrap_or_else(|| panic!("no data-bars on <body>:\n{dom:.600}"));
    let candles = body_attr(&dom, "data-candles-drawn")
        .unwrap_or_else(|| panic!("the script did not draw (no data-candles-drawn):\n{dom:.600}"));
    let per = body_attr(&dom, "data-aggregate").expect("data-aggregate");
    assert!(candles > 0, "no candle drawn");
    assert_eq!(candles, bars.div_ceil(per), "{bars} bars at {per} per candle");
    assert!(dom.contains("SYNTHETIC DATA"), "synthetic bars must be labelled");
    (bars, candles, per)
}

#[test]
fn thirty_days_of_h1_are_drawn_bar_for_bar_in_headless_chromium() {
    let s = Scratch::new();
    s.ok(&["collect", "--symbols", "EURUSD", "--timeframes", "H1", "--json"]);
    let out = s.axia(&["chart", "EURUSD", "H1", "--days", "30", "-o", "chart.html"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("chart: wrote chart.html ("), "{}", stderr(&out));
    let page = s.path().join("chart.html");
    let (bars, candles, per) = drawn(&s, &page);
    assert_eq!(bars, stored_rows(&s, "EURUSD", "H1"), "the default collect's 30 days are the chart's 30 days");
    assert_eq!((candles, per), (bars, 1), "fewer bars than pixels: one candle per bar");

    let shot = s.path().join("shot.png");
    headless(&s, &page, &[&format!("--screenshot={}", shot.display())]);
    let (w, h, pixels) = decode(&std::fs::read(&shot).expect("screenshot written"));
    assert_eq!((w, h), (1280, 800));
    let colours: HashSet<[u8; 3]> = pixels.iter().copied().collect();
    assert!(colours.len() > 50, "a blank page? {} colours", colours.len());
    for (name, colour) in [("up", UP), ("down", DOWN)] {
        let n = pixels.iter().filter(|p| **p == colour).count();
        assert!(n > 200, "{n} pixels of the {name} colour");
    }
}

#[test]
fn thirty_days_of_m1_are_merged_to_the_width_in_headless_chromium() {
    let s = Scratch::new();
    s.ok(&["collect", "--symbols", "EURUSD", "--timeframes", "M1", "--json"]);
    s.ok(&["chart", "EURUSD", "M1", "-o", "m1.html"]);
    let (bars, candles, per) = drawn(&s, &s.path().join("m1.html"));
    assert_eq!(bars, stored_rows(&s, "EURUSD", "M1"));
    assert!(bars > 20_000, "{bars} M1 bars in 30 days");
    assert!(per > 1 && candles < 1280, "{bars} bars drawn as {candles} candles of {per}");
}

/// Appended to a chart page: zooms in with the wheel, hovers, then drags, recording what the
/// page shows after each step on `<body>`.
const INTERACT: &str = r#"<script>
(function () {
  var o = document.getElementById("overlay"), r = o.getBoundingClientRect(), b = document.body.dataset;
  var x = r.left + r.width / 2, y = r.top + r.height / 4;
  b.initial = b.candlesDrawn;
  for (var i = 0; i < 5; i++) {
    o.dispatchEvent(new WheelEvent("wheel", { deltaY: -100, clientX: x, clientY: y, bubbles: true, cancelable: true }));
  }
  setTimeout(function () {
    b.zoomed = b.candlesDrawn;
    b.zoomedFirst = b.firstBar;
    o.dispatchEvent(new PointerEvent("pointermove", { clientX: x, clientY: y, pointerId: 1, bubbles: true }));
    var tip = document.getElementById("tip");
    b.tip = tip.style.display === "block" ? tip.textContent.split("\n")[0] : "hidden";
    o.dispatchEvent(new PointerEvent("pointerdown", { clientX: x, clientY: y, pointerId: 1, bubbles: true }));
    o.dispatchEvent(new PointerEvent("pointermove", { clientX: x + 300, clientY: y, pointerId: 1, bubbles: true }));
    o.dispatchEvent(new PointerEvent("pointerup", { clientX: x + 300, clientY: y, pointerId: 1, bubbles: true }));
    setTimeout(function () { b.draggedFirst = b.firstBar; }, 300);
  }, 300);
})();
</script>"#;

/// The text of `name="…"` on the `<body>` tag of a dumped DOM.
fn body_text(dom: &str, name: &str) -> String {
    let start = dom.find("<body").expect("<body>");
    let tag = &dom[start..start + dom[start..].find('>').expect("end of <body>")];
    let value_start = tag.find(&format!("{name}=\"")).unwrap_or_else(|| panic!("no {name} on {tag}")) + name.len() + 2;
    tag[value_start..value_start + tag[value_start..].find('"').unwrap()].to_owned()
}

#[test]
fn the_page_zooms_with_the_wheel_shows_a_utc_tooltip_and_pans_by_dragging() {
    let s = Scratch::new();
    s.ok(&["collect", "--symbols", "EURUSD", "--timeframes", "H1", "--json"]);
    s.ok(&["chart", "EURUSD", "H1", "-o", "chart.html"]);
    let page = std::fs::read_to_string(s.path().join("chart.html")).unwrap();
    let probe = s.path().join("probe.html");
    std::fs::write(&probe, page.replace("</body>", &format!("{INTERACT}\n</body>"))).unwrap();
    let dom = headless(&s, &probe, &["--dump-dom"]);
    let number = |name: &str| body_text(&dom, name).parse::<u64>().unwrap_or_else(|e| panic!("{name}: {e}"));
    let (initial, zoomed) = (number("data-initial"), number("data-zoomed"));
    assert!(zoomed < initial * 3 / 4, "five wheel steps in: {initial} -> {zoomed} candles");
    let tip = body_text(&dom, "data-tip");
    let hovered = tip.strip_suffix(" UTC").and_then(|t| NaiveDateTime::parse_from_str(t, "%Y-%m-%d %H:%M").ok());
    let hovered = hovered.unwrap_or_else(|| panic!("the tooltip starts with the bar's UTC time: {tip:?}"));
    let csv = s.ok(&["fetch", "EURUSD", "H1", "--format", "csv"]);
    let stamp = format!("{}Z,", hovered.format("%Y-%m-%dT%H:%M:%S"));
    assert!(csv.lines().any(|l| l.starts_with(&stamp)), "the hovered time {tip} is a stored bar's open time");
    let (before, after) = (number("data-zoomed-first"), number("data-dragged-first"));
    assert!(after < before, "dragging right shows earlier bars: first bar {before} -> {after}");
}

#[test]
fn png_charts_have_the_asked_size_and_the_candle_colours() {
    let s = Scratch::new();
    s.ok(&["collect", "--symbols", "USDJPY", "--timeframes", "H4", "--json"]);
    for (args, size) in [(vec![], (1280, 720)), (vec!["--width", "800", "--height", "500"], (800, 500))] {
        let mut all = vec!["chart", "USDJPY", "H4", "-o", "chart.png"];
        all.extend(args);
        s.ok(&all);
        let (w, h, pixels) = decode(&std::fs::read(s.path().join("chart.png")).unwrap());
        assert_eq!((w, h), size);
        assert!(pixels.contains(&UP) && pixels.contains(&DOWN), "candles in the up and down colours");
    }
    let out = s.axia(&["chart", "USDJPY", "H4", "-o", "tiny.png", "--width", "10"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(!s.path().join("tiny.png").exists());
}

#[test]
fn an_unknown_extension_is_a_usage_error() {
    let s = Scratch::new();
    let out = s.axia(&["chart", "EURUSD", "H1", "-o", "chart.pdf"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains(".html, .htm (interactive page) or .png"), "{}", stderr(&out));
    assert!(!s.path().join("chart.pdf").exists());
}

#[test]
fn a_range_without_bars_fails_clearly_and_writes_nothing() {
    let s = Scratch::new();
    let out = s.axia(&["chart", "EURUSD", "H1", "-o", "chart.html"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("no bars of EURUSD H1"), "{}", stderr(&out));
    assert!(stderr(&out).contains("nothing is stored"), "{}", stderr(&out));

    s.ok(&["collect", "--symbols", "EURUSD", "--timeframes", "H1", "--json"]);
    let out = s.axia(&["chart", "EURUSD", "H1", "--from", "2020-01-01", "--to", "2020-02-01", "-o", "chart.html"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("stored: "), "{}", stderr(&out));
    let left: Vec<_> = std::fs::read_dir(s.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert!(left.iter().all(|n| !n.to_string_lossy().contains("chart")), "files left: {left:?}");
}
