//! Exit codes: 0 success, 1 the job failed, 2 usage or configuration error.

use std::fmt;

/// A command failure and the exit code it maps to.
#[derive(Debug)]
pub enum CliError {
    /// Bad arguments or configuration (exit 2).
    Usage(anyhow::Error),
    /// The job ran and failed (exit 1).
    Failed(anyhow::Error),
}

impl CliError {
    /// The process exit code.
    pub const fn exit_code(&self) -> u8 {
        match self {
            Self::Usage(_) => 2,
            Self::Failed(_) => 1,
        }
    }
}

impl CliError {
    /// Adds context to the error, keeping its exit code.
    #[must_use]
    pub fn context(self, context: &'static str) -> Self {
        match self {
            Self::Usage(e) => Self::Usage(e.context(context)),
            Self::Failed(e) => Self::Failed(e.context(context)),
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Usage(e) | Self::Failed(e) => write!(f, "{e:#}"),
        }
    }
}

impl From<anyhow::Error> for CliError {
    fn from(e: anyhow::Error) -> Self {
        Self::Failed(e)
    }
}

/// Result of a command.
pub type CliResult<T = ()> = Result<T, CliError>;

/// Marks an error as a usage error.
pub trait UsageContext<T> {
    /// Maps the error to [`CliError::Usage`].
    fn usage(self) -> CliResult<T>;
}

impl<T, E: Into<anyhow::Error>> UsageContext<T> for Result<T, E> {
    fn usage(self) -> CliResult<T> {
        self.map_err(|e| CliError::Usage(e.into()))
    }
}
