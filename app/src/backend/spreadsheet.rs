//! CSV cells that a spreadsheet will not run. Excel, LibreOffice and Google
//! Sheets treat a cell that starts with `=`, `+`, `-`, `@`, a tab or a
//! carriage return as a formula ("CSV injection"); a code may start with
//! `+` or `-`, and a description, a name or a user agent may start with
//! anything. As OWASP recommends, such a cell is written with a leading
//! `'`, which spreadsheets show as text and do not display. A value that
//! itself starts with `'` gets one more, so that `unguard(guard(v)) == v`
//! for every value and an export imports back to the same codes.

/// Characters that make a spreadsheet read a cell as a formula.
const FORMULA_STARTS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];
const ESCAPE: char = '\'';

fn needs_escape(first: char) -> bool {
    first == ESCAPE || FORMULA_STARTS.contains(&first)
}

/// The cell to write for `value`.
pub fn guard(value: &str) -> std::borrow::Cow<'_, str> {
    match value.chars().next() {
        Some(first) if needs_escape(first) => format!("{ESCAPE}{value}").into(),
        _ => value.into(),
    }
}

/// Writes one row of an export, every cell through [`guard`].
pub fn write_row<W: std::io::Write>(
    writer: &mut csv::Writer<W>,
    cells: impl IntoIterator<Item = impl AsRef<str>>,
) -> csv::Result<()> {
    for cell in cells {
        writer.write_field(guard(cell.as_ref()).as_bytes())?;
    }
    writer.write_record(None::<&[u8]>)
}

/// The value a cell written by [`guard`] holds. A cell with a leading `'`
/// that `guard` would not have written (`'abc`) is someone's own text and
/// is kept as it is.
pub fn unguard(cell: &str) -> &str {
    match cell.strip_prefix(ESCAPE) {
        Some(rest) if rest.chars().next().is_some_and(needs_escape) => rest,
        _ => cell,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_row_is_quoted_as_csv_and_guarded() {
        let mut writer = csv::Writer::from_writer(Vec::new());
        write_row(&mut writer, ["A00.0", "Cholera, \"unspecified\"", "=1+1"]).unwrap();
        write_row(&mut writer, ["+A01", "two\nlines", ""]).unwrap();
        let text = String::from_utf8(writer.into_inner().unwrap()).unwrap();
        assert_eq!(
            text,
            "A00.0,\"Cholera, \"\"unspecified\"\"\",'=1+1\n'+A01,\"two\nlines\",\n"
        );
    }

    #[test]
    fn formula_cells_get_a_leading_quote() {
        for cell in ["=1+1", "+A01", "-B2", "@SUM(A1)", "\tx", "\rx"] {
            assert_eq!(guard(cell), format!("'{cell}"), "{cell:?}");
        }
        for cell in ["A00.0", "Cholera, unspecified", "", "1-2", "a=b"] {
            assert_eq!(guard(cell), cell, "{cell:?}");
        }
    }

    #[test]
    fn every_value_survives_a_round_trip() {
        for value in [
            "=HYPERLINK(\"http://x\")",
            "+A01",
            "-",
            "'",
            "''",
            "'=1",
            "'abc",
            "plain",
            "",
            "@",
            "\t\t",
        ] {
            assert_eq!(unguard(&guard(value)), value, "{value:?}");
        }
    }

    #[test]
    fn a_quote_someone_typed_is_kept() {
        assert_eq!(unguard("'abc"), "'abc");
        assert_eq!(unguard("'"), "'");
        assert_eq!(unguard("abc"), "abc");
    }
}
