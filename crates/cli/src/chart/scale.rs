//! Axis scales of the PNG chart: round price ticks and UTC time labels (the page's script
//! follows the same rules).

use chrono::{DateTime, Datelike, Utc};

/// A step of 1, 2 or 5 times a power of ten, about `span / target`.
#[must_use]
pub fn nice_step(span: f64, target: usize) -> f64 {
    let raw = span / target.max(1) as f64;
    if !raw.is_finite() || raw <= 0.0 {
        return 1.0;
    }
    let power = 10f64.powf(raw.log10().floor());
    let m = match raw / power {
        f if f <= 1.0 => 1.0,
        f if f <= 2.0 => 2.0,
        f if f <= 5.0 => 5.0,
        _ => 10.0,
    };
    m * power
}

/// Multiples of a nice step inside `[lo, hi]`, about `target` of them.
#[must_use]
pub fn price_ticks(lo: f64, hi: f64, target: usize) -> Vec<f64> {
    let step = nice_step(hi - lo, target);
    let first = (lo / step).ceil();
    (0..100).map(|k| (first + f64::from(k)) * step).take_while(|&t| t <= hi + step * 1e-9).collect()
}

/// A spacing of time labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeStep {
    /// Every N seconds (aligned to multiples of N since the epoch).
    Seconds(i64),
    /// Every calendar month.
    Month,
    /// Every calendar year.
    Year,
}

const STEPS: [i64; 13] = [60, 300, 900, 1800, 3600, 7200, 14_400, 21_600, 43_200, 86_400, 172_800, 604_800, 1_209_600];

impl TimeStep {
    /// The smallest step at least `seconds` long.
    #[must_use]
    pub fn at_least(seconds: f64) -> Self {
        #[allow(clippy::cast_precision_loss)]
        match STEPS.iter().find(|&&s| s as f64 >= seconds) {
            Some(&s) => Self::Seconds(s),
            None if seconds <= 31.0 * 86_400.0 => Self::Month,
            None => Self::Year,
        }
    }

    /// Which label period `t` falls in: a label goes where this changes.
    #[must_use]
    pub fn period(self, t: DateTime<Utc>) -> i64 {
        match self {
            Self::Seconds(s) => t.timestamp().div_euclid(s),
            Self::Month => i64::from(t.year()) * 12 + i64::from(t.month0()),
            Self::Year => i64::from(t.year()),
        }
    }

    /// The label of a bar opening at `t`: `HH:MM` inside a day (`MM-DD` at midnight), `MM-DD`
    /// for daily steps, `YYYY-MM` for months, `YYYY` for years.
    #[must_use]
    pub fn label(self, t: DateTime<Utc>) -> String {
        match self {
            Self::Seconds(s) if s < 86_400 && t.timestamp().rem_euclid(86_400) != 0 => t.format("%H:%M").to_string(),
            Self::Seconds(_) => t.format("%m-%d").to_string(),
            Self::Month => t.format("%Y-%m").to_string(),
            Self::Year => t.format("%Y").to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use rstest::rstest;

    use super::*;

    #[rstest]
    #[case(1.0, 5, 0.2)]
    #[case(0.0118, 6, 0.002)]
    #[case(37.0, 4, 10.0)]
    #[case(0.0, 4, 1.0)]
    fn nice_steps(#[case] span: f64, #[case] target: usize, #[case] step: f64) {
        assert!((nice_step(span, target) - step).abs() < 1e-12, "{}", nice_step(span, target));
    }

    #[test]
    fn ticks_are_round_and_inside() {
        let t = price_ticks(1.1003, 1.1091, 8);
        assert_eq!(t.len(), 4, "{t:?}");
        assert!(t.iter().all(|&p| (1.1003..=1.1091).contains(&p)));
        assert!((t[0] - 1.102).abs() < 1e-12, "{t:?}");
    }

    #[rstest]
    #[case(50.0, TimeStep::Seconds(60))]
    #[case(3601.0, TimeStep::Seconds(7200))]
    #[case(20.0 * 86_400.0, TimeStep::Month)]
    #[case(90.0 * 86_400.0, TimeStep::Year)]
    fn steps(#[case] secs: f64, #[case] step: TimeStep) {
        assert_eq!(TimeStep::at_least(secs), step);
    }

    #[rstest]
    #[case(TimeStep::Seconds(3600), (2025, 8, 5, 14), "14:00")]
    #[case(TimeStep::Seconds(3600), (2025, 8, 5, 0), "08-05")]
    #[case(TimeStep::Seconds(86_400), (2025, 8, 5, 0), "08-05")]
    #[case(TimeStep::Month, (2025, 8, 1, 0), "2025-08")]
    #[case(TimeStep::Year, (2025, 1, 1, 0), "2025")]
    fn labels_are_utc(#[case] step: TimeStep, #[case] t: (i32, u32, u32, u32), #[case] text: &str) {
        let at = Utc.with_ymd_and_hms(t.0, t.1, t.2, t.3, 0, 0).unwrap();
        assert_eq!(step.label(at), text);
    }
}
