//! The repository's CSV data sets (`data/`, `examples/data/`), for tests.

/// The columns of a long-format CSV (`unique_id,ds,y`, no quoted fields).
pub(crate) struct LongColumns {
    pub unique_id: Vec<String>,
    pub ds: Vec<String>,
    pub y: Vec<f64>,
}

/// The columns of the long-format CSV at `path`, relative to the repository root.
pub(crate) fn load(path: &str) -> LongColumns {
    let path = format!("{}/{path}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {path}: {e}"));
    let mut columns = LongColumns {
        unique_id: Vec::new(),
        ds: Vec::new(),
        y: Vec::new(),
    };
    for line in text.lines().skip(1).filter(|line| !line.is_empty()) {
        let fields: Vec<&str> = line.split(',').collect();
        assert_eq!(fields.len(), 3, "{path}: bad line {line:?}");
        columns.unique_id.push(fields[0].to_string());
        columns.ds.push(fields[1].to_string());
        columns.y.push(
            fields[2]
                .parse()
                .unwrap_or_else(|_| panic!("{path}: bad y in {line:?}")),
        );
    }
    columns
}
