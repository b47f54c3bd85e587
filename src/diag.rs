//! Diagnostics: one problem in the user's input, located by file, row, column and value,
//! with a hint where one helps. Validation collects all of them before giving up, so the
//! user fixes everything in one round. Pure; printing is the front ends' job.

use serde::Serialize;
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Warning,
    Error,
}

/// One located problem. `row` is 1-based among data rows (the header is not a row; in a
/// CSV file data row N is on line N + 1). For `scenario.toml` the column is the key path.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Diagnostic {
    pub severity: Severity,
    pub file: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub row: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    /// What was not checked because of this problem ("…and 1,175 devices of pool
    /// am-ann are not checked further"): follow-on errors folded into this one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl Diagnostic {
    pub fn error(file: impl Into<String>, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Error,
            file: file.into(),
            row: None,
            column: None,
            value: None,
            message: message.into(),
            hint: None,
            note: None,
        }
    }
    pub fn warning(file: impl Into<String>, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(file, message)
        }
    }
    pub fn row(mut self, row: usize) -> Self {
        self.row = Some(row);
        self
    }
    pub fn column(mut self, column: impl Into<String>) -> Self {
        self.column = Some(column.into());
        self
    }
    pub fn value(mut self, value: impl Into<String>) -> Self {
        self.value = Some(value.into());
        self
    }
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sev = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(f, "{sev}: {}", self.file)?;
        if let Some(r) = self.row {
            write!(f, " row {r}")?;
        }
        if let Some(c) = &self.column {
            write!(f, ", column {c}")?;
        }
        if let Some(v) = &self.value {
            write!(f, ", value {v:?}")?;
        }
        write!(f, ": {}", self.message)?;
        if let Some(h) = &self.hint {
            write!(f, " (hint: {h})")?;
        }
        if let Some(n) = &self.note {
            write!(f, "\n  {n}")?;
        }
        Ok(())
    }
}

/// Everything found wrong with an input, in the order found.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    pub fn push(&mut self, d: Diagnostic) {
        self.0.push(d);
    }
    pub fn extend(&mut self, other: Diagnostics) {
        self.0.extend(other.0);
    }
    pub fn has_errors(&self) -> bool {
        self.0.iter().any(Diagnostic::is_error)
    }
    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.0.iter().filter(|d| d.is_error())
    }
    pub fn warnings(&self) -> impl Iterator<Item = &Diagnostic> {
        self.0.iter().filter(|d| !d.is_error())
    }
    pub fn error_count(&self) -> usize {
        self.errors().count()
    }
    pub fn warning_count(&self) -> usize {
        self.warnings().count()
    }
    /// "1 error, 0 warnings", "3 errors, 1 warning".
    pub fn tally(&self) -> String {
        format!(
            "{}, {}",
            count(self.error_count(), "error", "errors"),
            count(self.warning_count(), "warning", "warnings")
        )
    }
}

/// A count with its noun in the right number and thousands separated:
/// `count(1, "device", "devices")` is "1 device", `count(1175, …)` "1,175 devices".
pub fn count(n: usize, one: &str, many: &str) -> String {
    format!("{} {}", thousands(n), if n == 1 { one } else { many })
}

/// `1175` as "1,175".
pub fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for d in &self.0 {
            writeln!(f, "{d}")?;
        }
        Ok(())
    }
}

/// The closest candidate to `word` by edit distance, when it is close enough to be a
/// plausible typo ("did you mean …?").
pub fn closest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (word.chars().count() / 3).clamp(1, 4);
    candidates
        .into_iter()
        .map(|c| (edit_distance(&word.to_lowercase(), &c.to_lowercase()), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, c)| (*d, *c))
        .map(|(_, c)| c)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for i in 1..=a.len() {
        cur[0] = i;
        for j in 1..=b.len() {
            let sub = prev[j - 1] + usize::from(a[i - 1] != b[j - 1]);
            cur[j] = sub.min(prev[j] + 1).min(cur[j - 1] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_everything() {
        let d = Diagnostic::error("devices.csv", "unknown pool")
            .row(3)
            .column("pool_id")
            .value("p9")
            .hint("known pools: p1, p2");
        assert_eq!(
            d.to_string(),
            "error: devices.csv row 3, column pool_id, value \"p9\": unknown pool (hint: known pools: p1, p2)"
        );
    }

    #[test]
    fn a_note_is_a_follow_up_line() {
        let mut d = Diagnostic::error("pools.csv", "not an IANA time zone").row(2);
        d.note = Some("…and 3 devices of pool p1 are not checked further".into());
        assert_eq!(
            d.to_string(),
            "error: pools.csv row 2: not an IANA time zone\n  …and 3 devices of pool p1 are not checked further"
        );
    }

    #[test]
    fn counts_are_plural_only_when_they_should_be() {
        assert_eq!(count(0, "error", "errors"), "0 errors");
        assert_eq!(count(1, "error", "errors"), "1 error");
        assert_eq!(count(1175, "device", "devices"), "1,175 devices");
        assert_eq!(thousands(1_000_000), "1,000,000");
        assert_eq!(thousands(999), "999");
        let mut d = Diagnostics::default();
        d.push(Diagnostic::error("a", "x"));
        assert_eq!(d.tally(), "1 error, 0 warnings");
        d.push(Diagnostic::warning("a", "y"));
        d.push(Diagnostic::warning("a", "z"));
        assert_eq!(d.tally(), "1 error, 2 warnings");
    }

    #[test]
    fn closest_finds_typos_only() {
        assert_eq!(closest("timezon", ["timezone", "region"]), Some("timezone"));
        assert_eq!(
            closest("Europe/Pariss", ["Europe/Paris", "Europe/Prague"]),
            Some("Europe/Paris")
        );
        assert_eq!(closest("xyz", ["timezone", "region"]), None);
    }
}
