//! The one CSV writer: every CSV otaplan writes (plan folder, generated scenarios, the
//! server's materialised tables) goes through the `csv` crate here. RFC 4180 quoting
//! where a field needs it (separator, quote, line break), `\n` line ends, no trimming.

use std::io;

/// Rows of fields written through the `csv` crate into `W`.
pub struct CsvWriter<W: io::Write> {
    inner: csv::Writer<W>,
}

impl<W: io::Write> CsvWriter<W> {
    /// A writer into `w`; nothing is written yet (give the header as the first row).
    pub fn new(w: W) -> Self {
        CsvWriter {
            inner: csv::WriterBuilder::new()
                .terminator(csv::Terminator::Any(b'\n'))
                .quote_style(csv::QuoteStyle::Necessary)
                .flexible(true)
                .from_writer(w),
        }
    }

    /// Writes one row.
    pub fn row<I, S>(&mut self, fields: I) -> io::Result<()>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<[u8]>,
    {
        self.inner.write_record(fields).map_err(into_io)
    }

    /// Flushes what is buffered and gives the sink back.
    pub fn finish(self) -> io::Result<W> {
        self.inner.into_inner().map_err(|e| e.into_error())
    }
}

fn into_io(e: csv::Error) -> io::Error {
    match e.into_kind() {
        csv::ErrorKind::Io(e) => e,
        other => io::Error::other(format!("{other:?}")),
    }
}

/// A whole table as text: the header, then every row.
pub fn csv_text<R, F, S>(header: &[&str], rows: R) -> String
where
    R: IntoIterator<Item = F>,
    F: IntoIterator<Item = S>,
    S: AsRef<[u8]>,
{
    let mut w = CsvWriter::new(Vec::new());
    // Writing into memory does not fail.
    let _ = w.row(header);
    for r in rows {
        let _ = w.row(r);
    }
    let bytes = w.finish().unwrap_or_default();
    // Every field came in as UTF-8 text, and quoting adds ASCII only.
    String::from_utf8(bytes).unwrap_or_default()
}

/// One field as it appears in a row: quoted when it needs it.
pub fn csv_field(s: &str) -> String {
    if s.is_empty() {
        // The crate quotes a record made of one empty field; as a field it is nothing.
        return String::new();
    }
    let mut line = csv_text::<_, [&str; 0], &str>(&[s], []);
    line.pop();
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(field: &str, expected: &str) {
        assert_eq!(csv_field(field), expected);
    }

    #[test]
    fn fields_are_quoted_only_when_needed() {
        check("dev-1", "dev-1");
        check("", "");
        check("a,b", "\"a,b\"");
        check("say \"hi\"", "\"say \"\"hi\"\"\"");
        check("two\nlines", "\"two\nlines\"");
        check("2.2.0>2.4.0", "2.2.0>2.4.0");
    }

    #[test]
    fn a_table_is_a_header_and_rows() {
        let t = csv_text(&["a", "b"], [["1", ""], ["x,y", "z"]]);
        assert_eq!(t, "a,b\n1,\n\"x,y\",z\n");
    }
}
