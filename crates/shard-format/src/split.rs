//! The two splits of a prepared dataset.

/// The two splits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SplitName {
    /// Training images.
    Train,
    /// Validation images.
    Val,
}

impl SplitName {
    /// `train` or `val` (also the shard file prefix).
    pub fn as_str(self) -> &'static str {
        match self {
            SplitName::Train => "train",
            SplitName::Val => "val",
        }
    }
}

impl std::str::FromStr for SplitName {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "train" => Ok(SplitName::Train),
            "val" => Ok(SplitName::Val),
            other => Err(format!("unknown split {other:?} (expected train or val)")),
        }
    }
}
