//! Tests of the CSV reader: the tokenizer's records and malformed quoting, then columns, options and errors.

use super::*;

/// A reader that hands out one byte per call, so that every record crosses the end of the bytes read so far.
struct Trickle<'a>(&'a [u8]);

impl Read for Trickle<'_> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        let Some((&first, rest)) = self.0.split_first() else { return Ok(0) };
        out[0] = first;
        self.0 = rest;
        Ok(1)
    }
}

/// The records of `text` with their lines, or the error's line and problem; checked to be the same when the
/// input arrives one byte at a time.
fn records_of(text: &str, delimiter: u8) -> Result<Vec<(u64, Vec<String>)>, (u64, Problem)> {
    let read_all = |reader: &mut dyn Read| {
        let mut reader = RecordReader::new(reader, delimiter);
        let mut record = Record::default();
        let mut records = Vec::new();
        loop {
            match reader.read(&mut record) {
                Ok(true) => records.push((record.line(), record.iter().map(str::to_string).collect::<Vec<_>>())),
                Ok(false) => return Ok(records),
                Err(RecordError::Text { line, problem }) => return Err((line, problem)),
                Err(RecordError::Io(e)) => panic!("{e}"),
            }
        }
    };
    let whole = read_all(&mut text.as_bytes());
    if text.len() < 1000 {
        assert_eq!(read_all(&mut Trickle(text.as_bytes())), whole, "{text:?} read one byte at a time");
    }
    if let Ok(records) = &whole {
        assert_eq!(&parse_records(text, "t.csv", delimiter).unwrap(), records);
    }
    whole
}

fn fields(text: &str) -> Vec<Vec<String>> {
    records_of(text, b',').unwrap().into_iter().map(|(_, fields)| fields).collect()
}

fn rows(rows: &[&[&str]]) -> Vec<Vec<String>> {
    rows.iter().map(|row| row.iter().map(|f| f.to_string()).collect()).collect()
}

#[test]
fn records_with_and_without_a_final_line_break() {
    assert_eq!(fields("a,b,c\n1,2,3\n"), rows(&[&["a", "b", "c"], &["1", "2", "3"]]));
    assert_eq!(fields("a,b,c\n1,2,3"), rows(&[&["a", "b", "c"], &["1", "2", "3"]]));
}

#[test]
fn crlf_lf_and_lone_cr_end_records() {
    assert_eq!(fields("a,b\r\n1,2\r\n"), rows(&[&["a", "b"], &["1", "2"]]));
    assert_eq!(fields("a,b\r1,2\r"), rows(&[&["a", "b"], &["1", "2"]]));
    assert_eq!(fields("a,b\n1,2\r\n3,4"), rows(&[&["a", "b"], &["1", "2"], &["3", "4"]]));
}

#[test]
fn quoted_fields_hold_delimiters_doubled_quotes_and_line_breaks() {
    let text = "id,note\r\n\"a,b\",\"say \"\"hi\"\"\"\n\"multi\r\nline\",x\n\"\",\"\"\n";
    assert_eq!(fields(text), rows(&[&["id", "note"], &["a,b", "say \"hi\""], &["multi\r\nline", "x"], &["", ""]]));
    assert_eq!(fields("\"a\rb\",\"é\"\n"), rows(&[&["a\rb", "é"]]));
}

#[test]
fn empty_fields_blank_lines_and_a_byte_order_mark() {
    assert_eq!(fields("\u{feff}a,b,c\n\n1,,3\n,,\n\n"), rows(&[&["a", "b", "c"], &["1", "", "3"], &["", "", ""]]));
    assert_eq!(fields("\"\"\n"), rows(&[&[""]]));
    assert_eq!(fields(""), rows(&[]));
}

#[test]
fn record_lines_count_the_line_breaks_inside_quoted_fields() {
    let lines: Vec<u64> = records_of("h\n\"x\ny\"\n\nz\r\nw", b',').unwrap().iter().map(|(line, _)| *line).collect();
    assert_eq!(lines, [1, 2, 5, 6]);
    let lines: Vec<u64> = records_of("h\r\"x\ry\"\r\rz\rw", b',').unwrap().iter().map(|(line, _)| *line).collect();
    assert_eq!(lines, [1, 2, 5, 6]);
}

#[test]
fn another_delimiter() {
    assert_eq!(records_of("a;b\n\"1;2\";3\n", b';').unwrap()[1].1, ["1;2", "3"]);
}

#[test]
fn malformed_quoting_is_an_error_at_its_line() {
    let error = |text: &str| records_of(text, b',').unwrap_err();
    assert_eq!(error("a,b\n1,\"open\n2,3\n"), (2, Problem::UnterminatedQuote));
    assert_eq!(error("a,b\n1,x\"y\n"), (2, Problem::QuoteInUnquotedField));
    assert_eq!(error("a,b\n\n\"1\"x,2\n"), (3, Problem::TextAfterClosingQuote('x')));
    assert_eq!(error("a\r\r\"1\"é"), (3, Problem::TextAfterClosingQuote('é')));
    assert_eq!(error("a\rb\rc\"\r"), (3, Problem::QuoteInUnquotedField));
    assert_eq!(Problem::TextAfterClosingQuote('x').to_string(), "unexpected \"x\" after a closing quote");
    let mut invalid = RecordReader::new(&b"a\n\xff\n"[..], b',');
    assert!(matches!(invalid.read(&mut Record::default()), Ok(true)));
    assert!(matches!(invalid.read(&mut Record::default()), Err(RecordError::Text { line: 2, problem: Problem::NotUtf8 })));
    // Two fields whose bytes would join into one character ("é") are not UTF-8 either.
    let mut split = RecordReader::new(&b"a,b\n\xC3,\xA9\n"[..], b',');
    assert!(matches!(split.read(&mut Record::default()), Ok(true)));
    assert!(matches!(split.read(&mut Record::default()), Err(RecordError::Text { line: 2, problem: Problem::NotUtf8 })));
}

#[test]
fn records_longer_than_a_block() {
    let long = "x".repeat(records::BLOCK + 17);
    let text = format!("a,b\n{long},\"{long}\"\n1,2\n");
    let records = records_of(&text, b',').unwrap();
    assert_eq!((records[1].1[0].len(), records[1].1[1].len(), records[2].0), (long.len(), long.len(), 3));
}

fn read(text: &str, options: &CsvOptions) -> Result<Panel, CsvError> {
    read_from(text.as_bytes(), "t.csv", options, None)
}

#[test]
fn reads_ids_dates_targets_and_exogenous_columns() {
    let text = "\u{feff}unique_id,ds,y,\"price, eur\"\nb,2020-01-01,1,5\na,2020-01-01,2,6\nb,2020-01-02,3,7\na,2020-01-02,4,8\n";
    let panel = read_from(text.as_bytes(), "t.csv", &CsvOptions::default(), Some(Frequency::parse("D").unwrap())).unwrap();
    assert_eq!(panel.ids(), ["b", "a"]);
    assert_eq!(panel.y(), [1.0, 3.0, 2.0, 4.0]);
    assert_eq!(panel.exogenous()[0].name, "price, eur");
    assert_eq!(panel.exogenous()[0].values, [5.0, 7.0, 6.0, 8.0]);
}

#[test]
fn one_series_without_an_id_column_and_other_names() {
    let options = CsvOptions { id_col: IdColumn::Absent, time_col: "t".into(), target_col: "v".into(), delimiter: b';', ..CsvOptions::default() };
    let panel = read("t;v\n1;2.5\n2;3.5\n3;4\n", &options).unwrap();
    assert_eq!((panel.ids(), panel.y()), (&["series".to_string()][..], &[2.5, 3.5, 4.0][..]));
}

#[test]
fn errors_name_the_file_line_and_column() {
    let message = |text: &str| read(text, &CsvOptions::default()).unwrap_err().to_string();
    assert_eq!(message("unique_id,ds,sales\n"), "t.csv line 1: no column \"y\" (columns: unique_id, ds, sales)");
    assert_eq!(message("unique_id,ds,y\na,1,2\na,2,n/a\n"), "t.csv line 3: column \"y\" has \"n/a\", not a finite number");
    assert_eq!(message("unique_id,ds,y\na,yesterday,2\n"), "t.csv line 2: time column \"ds\" has \"yesterday\", not a date or an integer step");
    assert!(message("unique_id,ds,y\na,1,2,9\n").starts_with("t.csv line 2:"));
    assert!(message("unique_id,ds,y\na,2,1\na,1,2\n").contains("series 'a'"));
    assert!(read_csv(Path::new("/nonexistent/file.csv"), &CsvOptions::default(), None).unwrap_err().to_string().starts_with("/nonexistent/file.csv: "));
}

fn columns(text: &str, options: &CsvOptions) -> Result<CsvColumns, CsvError> {
    read_columns(text.as_bytes(), "t.csv", options)
}

#[test]
fn errors_are_structured_with_their_line() {
    let kind = |text: &str| columns(text, &CsvOptions::default()).unwrap_err().kind;
    assert!(matches!(kind(""), CsvErrorKind::Empty));
    assert!(matches!(kind("unique_id,ds,y\n\n"), CsvErrorKind::NoDataRows));
    assert!(matches!(kind("unique_id,ds,y\na,1,2,3\n"), CsvErrorKind::FieldCount { line: 2, expected: 3, found: 4 }));
    assert!(matches!(kind("unique_id,ds,y\na,,2\n"), CsvErrorKind::BadTime { line: 2, ref value, .. } if value.is_empty()));
    assert!(matches!(kind("unique_id,ds,y\na,1, Infinity \n"), CsvErrorKind::BadNumber { line: 2, ref value, .. } if value == "Infinity"));
    assert!(matches!(kind("unique_id,ds\n"), CsvErrorKind::MissingColumn { ref column, ref columns } if column == "y" && columns.len() == 2));
    let message = |text: &str| columns(text, &CsvOptions::default()).unwrap_err().to_string();
    assert_eq!(message(""), "t.csv is empty: expected a header line and data rows");
    assert_eq!(message("unique_id,ds,y\n"), "t.csv has a header but no data rows");
    assert_eq!(message("unique_id,ds,y\na,1,2,3\n"), "t.csv line 2: expected 3 fields as in the header, found 4");
    assert_eq!(message("unique_id,ds,y\na,1,\"2\"x\n"), "t.csv line 2: unexpected \"x\" after a closing quote");
}

#[test]
fn lines_in_a_file_with_cr_line_ends() {
    let error = columns("unique_id,ds,y\ra,1,2\r\ra,2,n/a\r", &CsvOptions::default()).unwrap_err();
    assert_eq!(error.to_string(), "t.csv line 4: column \"y\" has \"n/a\", not a finite number");
    assert_eq!(columns("unique_id,ds,y\ra,1,2\r\"a\",2,3\r", &CsvOptions::default()).unwrap().lines, [2, 3]);
}

#[test]
fn sorting_by_series_and_time_keeps_the_file_lines() {
    let options = CsvOptions { sort: true, ..CsvOptions::default() };
    let read = columns("unique_id,ds,y\nb,3,1\na,2,2\nb,1,3\nb,3,4\na,1,5\n", &options).unwrap();
    assert_eq!(read.labels, ["b", "a"]);
    assert_eq!(read.codes, [0, 0, 0, 1, 1]);
    assert_eq!(read.ds, [Ds::Int(1), Ds::Int(3), Ds::Int(3), Ds::Int(1), Ds::Int(2)]);
    assert_eq!(read.y, [3.0, 1.0, 4.0, 5.0, 2.0]);
    assert_eq!(read.lines, [4, 2, 5, 6, 3]);
    let unsorted = columns("unique_id,ds,y\nb,3,1\nb,1,3\n", &CsvOptions::default()).unwrap();
    assert_eq!(unsorted.lines, [2, 3]);
}

#[test]
fn an_optional_id_column_and_ignored_extra_columns() {
    let options = CsvOptions { id_col: IdColumn::IfPresent("unique_id".into()), default_id: "shop".into(), exogenous: false, ..CsvOptions::default() };
    let read = columns("ds,y,note\n1,2,closed\n2,3,open\n", &options).unwrap();
    assert_eq!((read.labels, read.codes, read.exogenous.len()), (vec!["shop".to_string()], vec![0, 0], 0));
    let read = columns("unique_id,ds,y,note\na,1,2,x\nb,1,3,y\n", &options).unwrap();
    assert_eq!(read.labels, ["a", "b"]);
    let error = columns("ds,y,note\n1,2,closed\n", &CsvOptions { id_col: IdColumn::IfPresent("unique_id".into()), ..CsvOptions::default() }).unwrap_err();
    assert_eq!(error.to_string(), "t.csv line 2: column \"note\" has \"closed\", not a finite number");
}
