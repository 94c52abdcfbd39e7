//! The shared CSV data sets (`../shared/data`), for tests. Absent files skip the test with a
//! printed reason, since the data lives beside the repository, not in it.

/// The columns of a long-format CSV (`unique_id,ds,y`, no quoted fields).
pub(crate) struct LongColumns {
    pub unique_id: Vec<String>,
    pub ds: Vec<String>,
    pub y: Vec<f64>,
}

/// `None` (after printing why) when the file is not there.
pub(crate) fn load(file_name: &str) -> Option<LongColumns> {
    let path = format!("{}/../shared/data/{file_name}", env!("CARGO_MANIFEST_DIR"));
    let Ok(text) = std::fs::read_to_string(&path) else {
        println!("skipped: {path} is not there");
        return None;
    };
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
    Some(columns)
}
