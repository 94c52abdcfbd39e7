//! A strict RFC 4180 tokenizer: CSV bytes into records of text fields, each with the file line it starts on.
//!
//! Fields are separated by a one-byte delimiter, records by CRLF, LF or a lone CR; a field may be quoted with `"`,
//! and then holds delimiters, line breaks and doubled quotes (`""` for `"`). A UTF-8 byte-order mark is dropped,
//! blank lines are skipped, a final line break is optional. Malformed quoting is an error naming the line: an
//! unterminated quoted field, a quote inside an unquoted field, text after a closing quote.
//!
//! Written here rather than taken from the `csv` crate because that crate reads all three malformed cases without
//! an error (to the end of the file, or into the field's text), so a broken file loads as wrong data, and it counts
//! only LF as a line break, so every error in a file with CR line ends would be reported at line 1.

use std::fmt;
use std::io::Read;

/// Input is read in blocks of this size; a record longer than a block grows the block.
pub(super) const BLOCK: usize = 1 << 20;

/// One record: its fields' text, one after another, and where each field ends.
#[derive(Debug, Default)]
pub struct Record {
    text: String,
    /// The text while it is read, before it is checked to be UTF-8 (the same memory as `text`, passed back and
    /// forth).
    bytes: Vec<u8>,
    ends: Vec<usize>,
    /// The 1-based file line the record starts on.
    line: u64,
}

impl Record {
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Field `i` (`""` past the last field).
    pub fn get(&self, i: usize) -> &str {
        match self.ends.get(i) {
            Some(&end) => &self.text[if i == 0 { 0 } else { self.ends[i - 1] }..end],
            None => "",
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = &str> {
        (0..self.len()).map(|i| self.get(i))
    }

    pub fn line(&self) -> u64 {
        self.line
    }

    fn clear(&mut self, line: u64) {
        if self.bytes.capacity() < self.text.capacity() {
            self.bytes = std::mem::take(&mut self.text).into_bytes();
        }
        self.bytes.clear();
        self.ends.clear();
        self.line = line;
    }

    fn end_field(&mut self) {
        self.ends.push(self.bytes.len());
    }

    /// Makes the bytes read the record's text: UTF-8 (checked once per record), each field whole characters.
    fn finish(&mut self) -> Result<(), Problem> {
        match String::from_utf8(std::mem::take(&mut self.bytes)) {
            Ok(text) if self.ends.iter().all(|&end| text.is_char_boundary(end)) => {
                self.text = text;
                Ok(())
            }
            Ok(text) => {
                self.bytes = text.into_bytes();
                Err(Problem::NotUtf8)
            }
            Err(e) => {
                self.bytes = e.into_bytes();
                Err(Problem::NotUtf8)
            }
        }
    }
}

/// What is wrong with the text of a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    UnterminatedQuote,
    QuoteInUnquotedField,
    /// The character after a closing quote that is neither a delimiter nor a line break.
    TextAfterClosingQuote(char),
    NotUtf8,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::UnterminatedQuote => write!(f, "unterminated quoted field"),
            Problem::QuoteInUnquotedField => write!(f, "quote inside an unquoted field (quote the whole field and double its quotes)"),
            Problem::TextAfterClosingQuote(c) => write!(f, "unexpected \"{}\" after a closing quote", c.escape_debug()),
            Problem::NotUtf8 => write!(f, "text that is not UTF-8"),
        }
    }
}

/// Why the next record could not be read.
#[derive(Debug)]
pub enum RecordError {
    Io(std::io::Error),
    /// Malformed text at a 1-based line.
    Text { line: u64, problem: Problem },
}

/// The outcome of tokenizing one record from the bytes read so far.
enum Scan {
    /// A record ends `consumed` bytes on, on line `line` (before its line break).
    Done { consumed: usize, line: u64, blank: bool },
    /// The bytes read so far end inside the record.
    NeedMore,
    Failed { line: u64, problem: Problem },
}

/// Records read one at a time from a byte stream.
pub struct RecordReader<R> {
    reader: R,
    delimiter: u8,
    buf: Vec<u8>,
    /// The unread bytes are `buf[start..end]`.
    start: usize,
    end: usize,
    eof: bool,
    /// The line the next record starts on.
    line: u64,
    bom_checked: bool,
}

impl<R: Read> RecordReader<R> {
    /// `delimiter` must not be `"`, CR or LF.
    pub fn new(reader: R, delimiter: u8) -> Self {
        debug_assert!(!matches!(delimiter, b'"' | b'\r' | b'\n'));
        RecordReader { reader, delimiter, buf: Vec::new(), start: 0, end: 0, eof: false, line: 1, bom_checked: false }
    }

    /// Reads the next record that is not a blank line into `record`; `false` at the end of the input.
    pub fn read(&mut self, record: &mut Record) -> Result<bool, RecordError> {
        loop {
            if self.start == self.end && self.eof {
                return Ok(false);
            }
            if !self.bom_checked {
                if self.end < 3 && !self.eof {
                    self.fill()?;
                    continue;
                }
                self.bom_checked = true;
                if self.buf[self.start..self.end].starts_with(b"\xEF\xBB\xBF") {
                    self.start += 3;
                }
                continue;
            }
            if self.start == self.end {
                self.fill()?;
                continue;
            }
            match self.scan(record) {
                Scan::Done { consumed, line, blank } => {
                    self.start += consumed;
                    self.line = line + 1;
                    if !blank {
                        return Ok(true);
                    }
                }
                Scan::NeedMore => self.fill()?,
                Scan::Failed { line, problem } => return Err(RecordError::Text { line, problem }),
            }
        }
    }

    /// Reads more input after the unread bytes, moving them to the front (and growing the buffer when they fill it).
    fn fill(&mut self) -> Result<(), RecordError> {
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.end == self.buf.len() {
            self.buf.resize((2 * self.buf.len()).max(BLOCK), 0);
        }
        loop {
            match self.reader.read(&mut self.buf[self.end..]) {
                Ok(0) => {
                    self.eof = true;
                    return Ok(());
                }
                Ok(n) => {
                    self.end += n;
                    return Ok(());
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(RecordError::Io(e)),
            }
        }
    }

    /// Tokenizes the record at the start of the unread bytes into `record`.
    fn scan(&self, record: &mut Record) -> Scan {
        let bytes = &self.buf[self.start..self.end];
        let (n, eof, delimiter) = (bytes.len(), self.eof, self.delimiter);
        let mut line = self.line;
        record.clear(line);
        let mut i = 0;
        let mut blank = true;
        let failed = |line: u64, problem: Problem| Scan::Failed { line, problem };
        loop {
            if i < n && bytes[i] == b'"' {
                blank = false;
                let quote_line = line;
                i += 1;
                loop {
                    let run = bytes[i..].iter().position(|&c| matches!(c, b'"' | b'\r' | b'\n')).map_or(n, |k| i + k);
                    if run >= n {
                        return if eof { failed(quote_line, Problem::UnterminatedQuote) } else { Scan::NeedMore };
                    }
                    record.bytes.extend_from_slice(&bytes[i..run]);
                    i = run;
                    if i + 1 >= n && !eof && bytes[i] != b'\n' {
                        return Scan::NeedMore; // a quote or CR whose meaning depends on the next byte
                    }
                    let (special, width) = match bytes[i] {
                        b'"' if bytes.get(i + 1) == Some(&b'"') => (&b"\""[..], 2),
                        b'"' => {
                            i += 1;
                            break;
                        }
                        b'\r' if bytes.get(i + 1) == Some(&b'\n') => (&b"\r\n"[..], 2),
                        b'\r' => (&b"\r"[..], 1),
                        _ => (&b"\n"[..], 1),
                    };
                    record.bytes.extend_from_slice(special);
                    i += width;
                    if special != b"\"" {
                        line += 1;
                    }
                }
                if i >= n && !eof {
                    return Scan::NeedMore;
                }
                if i < n && !matches!(bytes[i], b'\r' | b'\n') && bytes[i] != delimiter {
                    if i + 4 > n && !eof {
                        return Scan::NeedMore; // the whole character, for the message
                    }
                    let after = String::from_utf8_lossy(&bytes[i..n.min(i + 4)]).chars().next().unwrap_or('\u{fffd}');
                    return failed(line, Problem::TextAfterClosingQuote(after));
                }
            } else {
                let run = bytes[i..].iter().position(|&c| c == delimiter || matches!(c, b'"' | b'\r' | b'\n')).map_or(n, |k| i + k);
                if run < n && bytes[run] == b'"' {
                    return failed(line, Problem::QuoteInUnquotedField);
                }
                if run >= n && !eof {
                    return Scan::NeedMore;
                }
                blank &= run == i;
                record.bytes.extend_from_slice(&bytes[i..run]);
                i = run;
            }
            record.end_field();
            if i < n && bytes[i] == delimiter {
                blank = false;
                i += 1;
                continue;
            }
            // The end of the record: a line break or the end of the input.
            if i < n {
                if bytes[i] == b'\r' {
                    match bytes.get(i + 1) {
                        Some(b'\n') => i += 1,
                        None if !eof => return Scan::NeedMore,
                        _ => {}
                    }
                }
                i += 1;
            }
            if let Err(problem) = record.finish() {
                return failed(record.line, problem);
            }
            return Scan::Done { consumed: i, line, blank };
        }
    }
}
