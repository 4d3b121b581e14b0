//! The report of [`ParquetOhlcvRepository::verify`]: options, problems (each naming its object,
//! one line of text each) and repairs.
//!
//! [`ParquetOhlcvRepository::verify`]: crate::parquet::ParquetOhlcvRepository::verify

use std::fmt;

use chrono::NaiveDate;
use serde::Serialize;

/// What [`verify`](crate::parquet::ParquetOhlcvRepository::verify) does besides checking every
/// entry and object.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VerifyOptions {
    /// Also check that every series covering this UTC date holds bars on it.
    pub date: Option<NaiveDate>,
    /// List orphans and fix mismatched entries from the objects; rebuild a missing or corrupt
    /// manifest.
    pub repair: bool,
}

/// The outcome of a verification. Keys are store keys (the repository prefix included).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VerifyReport {
    /// The store, for messages (`file:///…`, `s3://bucket/prefix`).
    pub location: String,
    /// The manifest's key.
    pub manifest_key: String,
    /// Manifest entries checked.
    pub entries: usize,
    /// Partition objects found.
    pub objects: usize,
    /// HEAD requests sent.
    pub heads: usize,
    /// Objects downloaded (to hash them, to repair them, or to look for a date's bars).
    pub downloads: usize,
    /// The date check, when asked for and the manifest could be read.
    pub date: Option<DateCheck>,
    /// What is wrong (after the repair, when asked for), sorted by key.
    pub problems: Vec<Problem>,
    /// What the repair changed.
    pub repaired: Vec<Repaired>,
}

impl VerifyReport {
    /// No problem left.
    #[must_use]
    pub fn is_ok(&self) -> bool {
        self.problems.is_empty()
    }
}

/// The date check of a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct DateCheck {
    /// The UTC date.
    pub date: NaiveDate,
    /// Series whose coverage spans the date.
    pub series: usize,
    /// Of those, the ones holding bars on it.
    pub with_bars: usize,
    /// Of those, the ones whose calendar expects no bar then (weekend, holiday).
    pub closed: usize,
}

/// One problem, naming the object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// The store key of the object (the manifest's for manifest-wide problems).
    pub key: String,
    /// What is wrong.
    #[serde(flatten)]
    pub kind: ProblemKind,
}

/// What is wrong with an object or the manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "problem", rename_all = "snake_case")]
pub enum ProblemKind {
    /// Partition objects exist but the manifest does not.
    MissingManifest {
        /// How many partition objects exist.
        objects: usize,
    },
    /// The manifest cannot be parsed.
    CorruptManifest {
        /// Why.
        detail: String,
    },
    /// The manifest lists the object but it does not exist.
    MissingObject,
    /// The object's size differs from its entry's.
    SizeMismatch {
        /// Size in the manifest.
        manifest: u64,
        /// Size of the object.
        object: u64,
    },
    /// The object's md5 differs from its entry's.
    Md5Mismatch {
        /// md5 in the manifest.
        manifest: String,
        /// md5 of the object.
        object: String,
    },
    /// A partition object without a manifest entry.
    Orphan,
    /// The object cannot be decoded as a partition of its key.
    Corrupt {
        /// Why.
        detail: String,
        /// Whether the manifest has an entry for it (left as it was).
        listed: bool,
    },
    /// An object under `ohlcv/` that is not a partition object of the layout.
    Foreign,
    /// A series covering the date holds no bar on it although its calendar expects some.
    NoBarsOnDate {
        /// The series (`EURUSD H1`).
        series: String,
        /// The UTC date.
        date: NaiveDate,
    },
    /// No series covers the date at all.
    DateNotCovered {
        /// The UTC date.
        date: NaiveDate,
    },
}

impl ProblemKind {
    /// Whether an object and its entry disagree (what the confirmation pass re-checks).
    pub(super) const fn is_mismatch(&self) -> bool {
        matches!(self, Self::MissingObject | Self::SizeMismatch { .. } | Self::Md5Mismatch { .. } | Self::Orphan)
    }
}

impl fmt::Display for ProblemKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::MissingManifest { objects } => write!(
                f,
                "no manifest although {objects} partition object(s) exist; repair rebuilds it from the objects"
            ),
            Self::CorruptManifest { detail } => {
                write!(f, "the manifest cannot be read ({detail}); repair rebuilds it from the objects")
            }
            Self::MissingObject => {
                write!(f, "listed in the manifest but missing: restore the object or collect its range again")
            }
            Self::SizeMismatch { manifest, object } => {
                write!(f, "size {object} bytes does not match the manifest's {manifest} bytes")
            }
            Self::Md5Mismatch { manifest, object } => {
                write!(f, "md5 {object} does not match the manifest's {manifest}")
            }
            Self::Orphan => write!(
                f,
                "not in the manifest (a writer stopped between the object and the manifest update); repair lists it"
            ),
            Self::Corrupt { detail, listed: true } => write!(
                f,
                "corrupt ({detail}); its manifest entry is left as it was: restore the object or collect its range again"
            ),
            Self::Corrupt { detail, listed: false } => write!(f, "corrupt ({detail}); not added to the manifest"),
            Self::Foreign => write!(f, "not a partition object of the layout (Hive readers would read it as data)"),
            Self::NoBarsOnDate { series, date } => {
                write!(f, "no {series} bars on {date} although the series covers that date and the market was open")
            }
            Self::DateNotCovered { date } => write!(f, "no stored series covers {date}"),
        }
    }
}

/// One change made by the repair.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Repaired {
    /// The store key of the object (or of the manifest, when rebuilt).
    pub key: String,
    /// What was done.
    pub action: RepairAction,
}

/// What the repair did for one key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RepairAction {
    /// An orphan was added to the manifest.
    Listed,
    /// A wrong entry was replaced by the object's.
    Updated,
    /// The manifest was rebuilt from the objects.
    Rebuilt,
}

impl fmt::Display for RepairAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Listed => "added to the manifest",
            Self::Updated => "manifest entry rebuilt from the object",
            Self::Rebuilt => "manifest rebuilt from the objects",
        })
    }
}
