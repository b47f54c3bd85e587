//! The CLI's one error type. Every command returns `Result<(), CliError>`;
//! [`CliError::exit_code`] is the one place an outcome becomes an exit code and
//! [`CliError::print`] the one place a failure is printed (with its cause chain).
//! Documented codes (README, docs/format.md): 0 ok, 1 bad input or no feasible plan,
//! 2 usage or internal error.

use super::MessageFormat;
use crate::diag::Diagnostics;
use std::error::Error;
use std::process::ExitCode;

/// What kind of failure, which alone decides the exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// The input (scenario, plan folder, progress, a path named on the command line) is
    /// wrong: exit 1.
    BadInput,
    /// The input is valid but no plan satisfies it: exit 1.
    NoFeasiblePlan,
    /// The arguments cannot be used together or are out of range: exit 2.
    Usage,
    /// Something failed that the input did not cause (a write after the work, the
    /// solver, the runtime): exit 2.
    Internal,
}

/// A failed command: its kind and what to print.
#[derive(Debug)]
pub struct CliError {
    pub failure: Failure,
    shown: Shown,
}

#[derive(Debug)]
enum Shown {
    /// `error: {e}`, then `  caused by: {source}` for each source in its chain.
    Error(Box<dyn Error + Send + Sync + 'static>),
    /// Every diagnostic (on stderr as text, on stdout as JSON), then an optional
    /// closing line on stderr.
    Diagnostics {
        diagnostics: Diagnostics,
        format: MessageFormat,
        closing: Option<String>,
    },
}

/// Exit code for bad input or an infeasible plan.
pub const EXIT_BAD_INPUT: u8 = 1;
/// Exit code for usage or internal errors.
pub const EXIT_INTERNAL: u8 = 2;

impl CliError {
    pub fn new(failure: Failure, e: impl Into<Box<dyn Error + Send + Sync + 'static>>) -> Self {
        CliError {
            failure,
            shown: Shown::Error(e.into()),
        }
    }

    /// Bad input, said by `e`.
    pub fn input(e: impl Into<Box<dyn Error + Send + Sync + 'static>>) -> Self {
        CliError::new(Failure::BadInput, e)
    }

    /// An internal failure, said by `e`.
    pub fn internal(e: impl Into<Box<dyn Error + Send + Sync + 'static>>) -> Self {
        CliError::new(Failure::Internal, e)
    }

    /// Bad input reported as diagnostics (text on stderr), with no closing line.
    pub fn diagnostics(d: Diagnostics) -> Self {
        CliError::diagnostics_then(d, MessageFormat::Text, None)
    }

    /// Bad input reported as diagnostics in `format`, then `closing` on stderr.
    pub fn diagnostics_then(
        d: Diagnostics,
        format: MessageFormat,
        closing: Option<String>,
    ) -> Self {
        CliError {
            failure: Failure::BadInput,
            shown: Shown::Diagnostics {
                diagnostics: d,
                format,
                closing,
            },
        }
    }

    /// Bad re-plan input: every diagnostic, then "N errors; nothing was planned".
    pub fn nothing_planned(d: Diagnostics) -> Self {
        let closing = format!(
            "{}; nothing was planned",
            crate::diag::count(d.error_count(), "error", "errors")
        );
        CliError::diagnostics_then(d, MessageFormat::Text, Some(closing))
    }

    /// The documented exit code of this failure: the one mapping.
    pub fn code(&self) -> u8 {
        match self.failure {
            Failure::BadInput | Failure::NoFeasiblePlan => EXIT_BAD_INPUT,
            Failure::Usage | Failure::Internal => EXIT_INTERNAL,
        }
    }

    pub fn exit_code(&self) -> ExitCode {
        ExitCode::from(self.code())
    }

    /// Prints the failure: the error and its cause chain, or the diagnostics.
    pub fn print(&self) {
        match &self.shown {
            Shown::Error(e) => {
                eprintln!("error: {e}");
                let mut source = e.source();
                while let Some(s) = source {
                    eprintln!("  caused by: {s}");
                    source = s.source();
                }
            }
            Shown::Diagnostics {
                diagnostics,
                format,
                closing,
            } => {
                super::print_diagnostics(diagnostics, *format);
                if let Some(line) = closing {
                    eprintln!("{line}");
                }
            }
        }
    }
}

impl From<crate::generate::GenerateError> for CliError {
    fn from(e: crate::generate::GenerateError) -> Self {
        use crate::generate::GenerateError as G;
        let failure = match &e {
            G::NoDevices | G::CoverageTooLong(_) => Failure::Usage,
            G::CreateDir { .. } | G::Io { .. } | G::Parquet { .. } | G::CoverageModel { .. } => {
                Failure::Internal
            }
        };
        CliError::new(failure, e)
    }
}

impl From<crate::plan::PlanError> for CliError {
    fn from(e: crate::plan::PlanError) -> Self {
        use crate::plan::{PlanError, SolveError};
        match e {
            PlanError::Input { diagnostics } => CliError::nothing_planned(diagnostics),
            PlanError::Solve { source } => {
                let failure = match source {
                    SolveError::Infeasible | SolveError::NoSolutionInTime(_) => {
                        Failure::NoFeasiblePlan
                    }
                    SolveError::Unbounded | SolveError::Solver(_) => Failure::Internal,
                };
                // The solver's own message; PlanError::Solve only repeats it.
                CliError::new(failure, source)
            }
        }
    }
}

impl From<crate::simulate::SimError> for CliError {
    fn from(e: crate::simulate::SimError) -> Self {
        use crate::simulate::SimError;
        let failure = match &e {
            SimError::NoRuns => Failure::Usage,
        };
        CliError::new(failure, e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(failure: Failure, expected: u8) {
        assert_eq!(CliError::new(failure, "x").code(), expected);
    }

    #[test]
    fn failures_map_to_the_documented_codes() {
        check(Failure::BadInput, 1);
        check(Failure::NoFeasiblePlan, 1);
        check(Failure::Usage, 2);
        check(Failure::Internal, 2);
    }

    #[test]
    fn library_errors_are_classified() {
        use crate::generate::GenerateError;
        use crate::plan::{PlanError, SolveError};
        let solve = |source| CliError::from(PlanError::Solve { source }).code();
        assert_eq!(solve(SolveError::Infeasible), 1);
        assert_eq!(solve(SolveError::NoSolutionInTime(5.0)), 1);
        assert_eq!(solve(SolveError::Unbounded), 2);
        assert_eq!(solve(SolveError::Solver("crashed".into())), 2);
        assert_eq!(CliError::from(GenerateError::NoDevices).code(), 2);
        let write = GenerateError::Io {
            path: "x".into(),
            source: std::io::Error::other("disk full"),
        };
        assert_eq!(CliError::from(write).code(), 2);
        assert_eq!(CliError::from(crate::simulate::SimError::NoRuns).code(), 2);
        let d = crate::diag::Diagnostics(vec![crate::diag::Diagnostic::error("p.csv", "bad")]);
        assert_eq!(
            CliError::from(PlanError::Input { diagnostics: d }).code(),
            1
        );
    }
}
